"""svc-manage: administer a svcframe deployment.

Each command group lives in its own module with ``add_parser(subparsers)``,
which adds a ``<group>`` sub-parser whose commands set ``handler(conf, args)``
(returning an exit status or None).  Add a group by writing such a module and
listing it in COMMAND_GROUPS.
"""

import argparse
import logging
import sys

from oslo_config import cfg

import svcframe
from svcframe import log, statedir
from svcframe.cmd import (
    config_errors,
    errors,
    manage_component,
    manage_db,
    manage_notifications,
    manage_rpc,
    manage_service,
    manage_systemd,
)
from svcframe.conf import database as database_conf
from svcframe.conf import messaging as messaging_conf
from svcframe.conf import sources
from svcframe.servicegroup import ServiceGroupError

__all__ = ["COMMAND_GROUPS", "build_parser", "load_config", "main"]

COMMAND_GROUPS = (
    manage_service,
    manage_rpc,
    manage_db,
    manage_component,
    manage_notifications,
    manage_systemd,
)

PROG = "svc-manage"
EXIT_ERROR = errors.EXIT_ERROR

LOG = logging.getLogger(PROG)


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Administer a svcframe deployment: the service registry and its "
        "database, and RPC to any service.",
        epilog=f"Run '{PROG} GROUP --help' for the commands of a group.",
    )
    parser.add_argument(
        "--config-file",
        action="append",
        default=[],
        metavar="PATH",
        help="Configuration file to read; repeat for several, later files override "
        "earlier ones. Default: svcframe.conf from the first of ~/.svcframe/, ~/, "
        "/etc/svcframe/, /etc/ that has one. Relative paths in a file are relative "
        "to the file's directory.",
    )
    parser.add_argument(
        "--config-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="Directory of *.conf files read in sorted order after --config-file; repeatable.",
    )
    parser.add_argument("--debug", action="store_true", help="Show the full traceback of an error.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {svcframe.__version__}")
    groups = parser.add_subparsers(title="command groups", metavar="GROUP", required=True)
    for group in COMMAND_GROUPS:
        group.add_parser(groups)
    return parser


def load_config(config_files, config_dirs):
    """A fresh ConfigOpts that has read the given files and directories.

    Without any, it reads what svc-launch reads without any: oslo.config's
    default search for svcframe.conf (see ``svcframe.conf.sources``).
    """
    conf = cfg.ConfigOpts()
    # Registered before parsing, so that their relative paths can be anchored.
    database_conf.register_opts(conf)
    messaging_conf.register_opts(conf)
    args = []
    for path in config_files:
        args += ["--config-file", path]
    for path in config_dirs:
        args += ["--config-dir", path]
    conf(
        args,
        project=sources.PROJECT,
        default_config_files=sources.default_config_files(),
        default_config_dirs=sources.default_config_dirs(),
    )
    sources.anchor_relative_paths(conf)
    LOG.debug("Configuration files: %s", sources.describe_files(conf))
    LOG.debug("State directory: %s", conf.state_path)
    return conf


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        # Without --debug, the command's own one-line error is the whole story:
        # the log lines of retries on the way would say it again.
        level=logging.DEBUG if args.debug else logging.CRITICAL,
        format=f"{PROG}: %(levelname)s: %(message)s",
    )
    log.mask_secrets()
    try:
        conf = load_config(args.config_file, args.config_dir)
    except (cfg.Error, ValueError) as exc:
        if args.debug:
            return errors.fail_with_traceback(config_errors.EXIT_CONFIG)
        return _fail(config_errors.describe(exc), config_errors.EXIT_CONFIG)
    try:
        return args.handler(conf, args) or 0
    except cfg.Error as exc:
        if args.debug:
            return errors.fail_with_traceback(config_errors.EXIT_CONFIG)
        return _fail(config_errors.describe(exc), config_errors.EXIT_CONFIG)
    except statedir.UnsafeStateDirectory as exc:
        if args.debug:
            return errors.fail_with_traceback(config_errors.EXIT_CONFIG)
        return _fail(str(exc), config_errors.EXIT_CONFIG)
    except ServiceGroupError as exc:
        if args.debug:
            return errors.fail_with_traceback()
        return _fail(str(exc))
    except Exception as exc:
        if args.debug:
            return errors.fail_with_traceback()
        return _fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)")


def _fail(message, status=EXIT_ERROR):
    # A driver's error may go on for lines; the first says what failed.
    return errors.fail(PROG, (message.strip().splitlines() or ["failed"])[0], status)


if __name__ == "__main__":
    sys.exit(main())
