"""Logging through oslo.log, with the process role on every line.

Operators get oslo.log's options (``debug``, ``log_file``, ``log_dir``,
``use_journal``, ``use_json``, ``log_config_append``, ...).  Every log record
carries ``svc_worker``: ``master`` in a launcher master, ``worker-2`` in
worker 2, ``main`` in a process without workers.  The default formats show it
after the pid; a ``log_config_append`` file can use ``%(svc_worker)s`` too.

Passwords are masked in every record (``svcframe.masking``): in the
message of any logger, third-party ones (kombu, SQLAlchemy, redis)
included, at every level, and in the tracebacks the handlers format.
"""

import logging

from oslo_log import log as oslo_logging

from svcframe.masking import mask_password

__all__ = [
    "get_worker_tag",
    "mask_secrets",
    "reapply",
    "register_options",
    "set_worker_tag",
    "setup",
]

LOG = logging.getLogger(__name__)

DEFAULT_FORMAT = (
    "%(asctime)s.%(msecs)03d %(process)d %(svc_worker)s %(levelname)s %(name)s "
    "[-] %(instance)s%(message)s"
)
CONTEXT_FORMAT = (
    "%(asctime)s.%(msecs)03d %(process)d %(svc_worker)s %(levelname)s %(name)s "
    "[%(global_request_id)s %(request_id)s %(user_identity)s] %(instance)s%(message)s"
)
EXCEPTION_PREFIX = "%(asctime)s.%(msecs)03d %(process)d %(svc_worker)s ERROR %(name)s %(instance)s"

_tag = "main"
_base_factory = None
# (conf, product_name) of the last setup(), for reapply().
_set_up_from = None


def set_worker_tag(tag):
    """Name the role of this process in every later log record.

    The launcher calls it in the master and right after each fork, before
    the worker logs anything.
    """
    global _tag
    _tag = tag
    _install_record_factory()


def get_worker_tag():
    return _tag


def _record_factory(*args, **kwargs):
    record = _base_factory(*args, **kwargs)
    record.svc_worker = _tag
    # How oslo.log's JSON formatter and journal handler learn of the field.
    record.extra_keys = ["svc_worker"]
    _mask_message(record)
    return record


def _mask_message(record):
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - logging reports a bad format itself, later
        return
    masked = mask_password(message)
    if masked != message:
        record.msg = masked
        record.args = ()


class _MaskingFormatter(logging.Formatter):
    """Masks what another formatter made of a record: tracebacks and stacks included."""

    def __init__(self, formatter):
        super().__init__()
        self.formatter = formatter

    def format(self, record):
        return mask_password(self.formatter.format(record))


def _mask_handlers():
    loggers = [logging.getLogger()]
    loggers += [lg for lg in logging.Logger.manager.loggerDict.values() if hasattr(lg, "handlers")]
    for logger in loggers:
        for handler in logger.handlers:
            if not isinstance(handler.formatter, _MaskingFormatter):
                handler.setFormatter(_MaskingFormatter(handler.formatter or logging.Formatter()))


def mask_secrets():
    """Mask passwords in every log record from now on, and in what current handlers print.

    ``setup()`` calls it; a program that configures logging itself (as
    ``svc-manage`` does with ``logging.basicConfig``) calls it afterwards.
    """
    _install_record_factory()
    _mask_handlers()


def _install_record_factory():
    # A record factory, not a handler filter: it reaches records for every
    # handler, including those a log_config_append file attaches elsewhere.
    global _base_factory
    if _base_factory is None:
        _base_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_record_factory)


def register_options(conf):
    """Register oslo.log's options, with our formats as defaults.

    Call it before parsing the command line, like oslo.log's own.
    """
    oslo_logging.register_options(conf)
    # The default formats need svc_worker on every record, even if oslo.log
    # is then set up directly rather than through setup() below.
    _install_record_factory()
    conf.set_default("logging_default_format_string", DEFAULT_FORMAT)
    conf.set_default("logging_context_format_string", CONTEXT_FORMAT)
    conf.set_default("logging_exception_prefix", EXCEPTION_PREFIX)


def setup(conf, product_name="svcframe"):
    """Configure the root logger from ``conf`` (once its files are parsed)."""
    global _set_up_from
    oslo_logging.setup(conf, product_name)
    mask_secrets()
    _set_up_from = (conf, product_name)


def reapply(conf):
    """Configure logging again from ``conf``'s current values, after a reload.

    oslo.log applies only ``debug`` and ``log_config_append`` when the
    files are mutated; a launcher master calls this once it reloaded them,
    so that its log, and every worker it forks later, follow the files
    (``default_log_levels``, ``log_file``, ...).  Nothing happens unless
    :func:`setup` set logging up from this ``conf``.  If the new settings
    fail, the current handlers stay and the error is logged.
    """
    if _set_up_from is None or _set_up_from[0] is not conf:
        return
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        oslo_logging.setup(conf, _set_up_from[1])
    except Exception as exc:  # noqa: BLE001 - a bad log setting must not stop the service
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in before:
            root.addHandler(handler)
        root.setLevel(level)
        LOG.error("Could not apply the new logging options, keeping the current ones: %s", exc)
        return
    for handler in before:
        if handler not in root.handlers:
            handler.close()
    mask_secrets()
