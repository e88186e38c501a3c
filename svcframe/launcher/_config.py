"""What a configuration reload changed, whether it can apply in place, and a digest of it."""

import contextlib
import hashlib
import logging

from oslo_config import cfg

from svcframe.masking import mask_password

__all__ = [
    "Changes",
    "ReloadFailed",
    "attempt",
    "check_restart_method",
    "clear_cache",
    "digest",
    "log_options",
    "mutate",
    "option_keys",
    "reload",
]

LOG = logging.getLogger("svcframe.launcher")

_UNREADABLE = object()

# What oslo.config logs, rather than raises, while it re-reads the files.
_OSLO_CONFIG_LOG = "oslo_config.cfg"
_IMMUTABLE_IGNORED = "Ignoring change to immutable option"
_RELOAD_ERROR_PREFIXES = (
    "Caught Error while reloading configure files: ",
    "Caught SystemExit while reloading configure files with exit code: ",
)


# Lower bounds svcframe needs on options defined exactly as oslo.messaging
# defines them, without the bound: a worker cannot start below it.
_LOWER_BOUNDS = {(None, "executor_thread_pool_size"): 1}


class ReloadFailed(Exception):
    """The configuration files could not be applied; the current values stay."""


def _value(read):
    try:
        return read()
    except cfg.Error:
        # A value that fails to parse or interpolate still has to compare
        # unequal to any readable one.
        return _UNREADABLE


def _snapshot(conf):
    values = {}
    for key in conf:
        value = _value(lambda key=key: conf[key])
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for name in value:
                values[(key, name)] = _value(lambda value=value, name=name: value[name])
        else:
            values[(None, key)] = value
    return values


def _opt(conf, group, name):
    # oslo.config has no public accessor for an option's definition.
    return conf._get_opt_info(name, group)["opt"]


def _is_mutable(conf, group, name):
    return _opt(conf, group, name).mutable


class Changes:
    """Options whose value differs after a reload, split by mutability."""

    def __init__(self, conf, before, after):
        changed = sorted(
            (key for key in before.keys() | after.keys() if before.get(key) != after.get(key)),
            key=lambda key: (key[0] or "", key[1]),
        )
        self.mutable = []
        self.immutable = []
        for group, name in changed:
            try:
                mutable = _is_mutable(conf, group, name)
            except cfg.NoSuchOptError:
                mutable = False
            (self.mutable if mutable else self.immutable).append((group, name))

    def __bool__(self):
        return bool(self.mutable or self.immutable)

    @staticmethod
    def describe(keys):
        return ", ".join(f"[{group or 'DEFAULT'}] {name}" for group, name in keys)


def clear_cache(conf):
    """Forget the option values ``conf`` cached; the next reads see its namespaces."""
    # oslo.config has no public method that only does this.
    conf._ConfigOpts__cache.clear()


def _read(conf, group, name):
    return conf[group][name] if group else conf[name]


def _invalid(conf, before, after):
    """(option, reason) of each option the reload made unreadable, or below a bound of ours."""
    invalid = []
    for key in sorted(after, key=lambda key: (key[0] or "", key[1])):
        if after[key] is _UNREADABLE and before.get(key) is not _UNREADABLE:
            group, name = key
            try:
                _read(conf, group, name)
            except cfg.Error as exc:
                # "Value for option X from LocationInfo(...) is not valid: why"
                invalid.append((Changes.describe([key]), str(exc).rsplit(" is not valid: ", 1)[-1]))
        elif key in _LOWER_BOUNDS and after[key] != before.get(key):
            minimum = _LOWER_BOUNDS[key]
            if isinstance(after[key], int) and after[key] < minimum:
                # Worded as oslo.config words its own bounds.
                reason = f"Should be greater than or equal to {minimum}"
                invalid.append((Changes.describe([key]), reason))
    return invalid


class _Captured(logging.Filter):
    """Keeps oslo.config's lines about ignored options and failed reads instead of logging them."""

    def __init__(self):
        super().__init__()
        self.records = []

    def filter(self, record):
        text = str(record.msg)
        if text.startswith(_IMMUTABLE_IGNORED) or text.startswith(_RELOAD_ERROR_PREFIXES):
            self.records.append(record)
            return False
        return True

    def messages(self):
        return [record.getMessage() for record in self.records]


@contextlib.contextmanager
def _captured_oslo_config_log():
    # A reload's outcome is told in one line of ours; oslo.config would
    # otherwise add a line per ignored option and one per failure.
    captured = _Captured()
    logger = logging.getLogger(_OSLO_CONFIG_LOG)
    logger.addFilter(captured)
    try:
        yield captured
    finally:
        logger.removeFilter(captured)


def _read_error(captured):
    for message in captured.messages():
        for prefix in _RELOAD_ERROR_PREFIXES:
            if message.startswith(prefix):
                reason = message[len(prefix) :]
                if "SystemExit" in prefix:
                    reason = f"exit status {reason}"
                return mask_password(reason)
    return "the configuration files could not be read"


def _describe_invalid(invalid):
    return "; ".join(f"invalid value of {option}: {reason}" for option, reason in invalid)


def reload(conf):
    """Re-read the configuration files into ``conf``.

    oslo.config checks a value only when it is read, so a reload is undone
    if it gives an option a value that cannot be read (out of range, not a
    number, ...): applied, it would break every later read of the option in
    the workers, or keep every new worker from starting.

    :returns: the :class:`Changes`.
    :raises ReloadFailed: the files could not be read or hold an invalid
        value; ``conf`` keeps its values.
    """
    before = _snapshot(conf)
    # oslo.config has no public way back to the values before a reload:
    # put its namespace back and forget the values it cached since.
    previous = conf._namespace
    with _captured_oslo_config_log() as captured:
        read = conf.reload_config_files()
    if not read:
        raise ReloadFailed(_read_error(captured))
    after = _checked_snapshot(conf, before, "_namespace", previous)
    return Changes(conf, before, after)


def mutate(conf):
    """``conf.mutate_config_files()``, undone if it fails or gives an option an invalid value.

    Also forgets the values oslo.config cached while it re-read the files:
    it empties its cache before reading them, not after, so a request
    thread reading an option meanwhile caches the old value, which would
    otherwise outlive the reload.

    :returns: the :class:`Changes`: ``mutable`` the options whose value
        changed, ``immutable`` those that changed on disk but keep their
        value until a restart.
    :raises ReloadFailed: the files could not be read or hold an invalid
        value; ``conf`` keeps its values.
    """
    before = _snapshot(conf)
    # oslo.config has no public way back to the values before a mutation.
    previous = conf._mutable_ns
    with _captured_oslo_config_log() as captured:
        try:
            conf.mutate_config_files()
        except (cfg.Error, SystemExit) as exc:
            _restore(conf, "_mutable_ns", previous)
            raise ReloadFailed(mask_password(str(exc) or type(exc).__name__)) from None
    clear_cache(conf)
    after = _checked_snapshot(conf, before, "_mutable_ns", previous)
    changes = Changes(conf, before, after)
    changes.immutable = sorted(
        (
            (None if r.args["group"] == "DEFAULT" else r.args["group"], r.args["option"])
            for r in captured.records
            if str(r.msg).startswith(_IMMUTABLE_IGNORED) and isinstance(r.args, dict)
        ),
        key=lambda key: (key[0] or "", key[1]),
    )
    return changes


def _checked_snapshot(conf, before, namespace, previous):
    """The values the files gave; if one is invalid, ``conf`` is put back and ReloadFailed raised.

    ``namespace`` names the attribute of ``conf`` that held ``previous``
    before the files were read.
    """
    after = _snapshot(conf)
    invalid = _invalid(conf, before, after)
    if invalid:
        _restore(conf, namespace, previous)
        raise ReloadFailed(_describe_invalid(invalid))
    return after


def _restore(conf, namespace, previous):
    setattr(conf, namespace, previous)
    clear_cache(conf)


def attempt(apply):
    """``(apply(), None)``, or ``(None, reason)`` if it raised ReloadFailed.

    The caller logs the reason outside any except block: oslo.log would
    append the exception to the line.
    """
    try:
        return apply(), None
    except ReloadFailed as exc:
        return None, str(exc)


def option_keys(conf):
    """The ``(group, name)`` of every option registered on ``conf`` now."""
    return frozenset(_snapshot(conf))


def digest(conf, keys):
    """A short digest of the values of options ``keys``, secrets left out.

    Two processes with the same options and the same values get the same
    digest: an operator compares workers with it.  Options marked
    ``secret`` and the passwords in URLs do not take part, so the digest
    says nothing about them and can be shown anywhere.
    """
    hasher = hashlib.sha256()
    for group, name in sorted(keys, key=lambda key: (key[0] or "", key[1])):
        try:
            if _opt(conf, group, name).secret:
                continue
        except cfg.NoSuchOptError:
            continue
        value = _value(lambda group=group, name=name: _read(conf, group, name))
        text = "<invalid>" if value is _UNREADABLE else mask_password(repr(value))
        hasher.update(f"{group or 'DEFAULT'}\0{name}\0{text}\n".encode())
    return hasher.hexdigest()[:8]


def log_options(conf):
    """Log every option's value at DEBUG, if ``[DEFAULT] log_options`` says so."""
    if conf.log_options:
        conf.log_opt_values(LOG, logging.DEBUG)


def check_restart_method(restart_method):
    if restart_method not in ("mutate", "reload"):
        raise ValueError(f"restart_method must be 'mutate' or 'reload', not: {restart_method!r}")
