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
from svcframe import statedir
from svcframe.cmd import manage_component, manage_db, manage_rpc, manage_service
from svcframe.servicegroup.exceptions import ServiceGroupError
from svcframe.servicegroup.urls import mask_url

__all__ = ["COMMAND_GROUPS", "build_parser", "load_config", "main"]

COMMAND_GROUPS = (manage_service, manage_rpc, manage_db, manage_component)

PROG = "svc-manage"
EXIT_ERROR = 1


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
        "earlier ones. No file is read by default.",
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
    """A fresh ConfigOpts that has read exactly the given files and directories."""
    conf = cfg.ConfigOpts()
    args = []
    for path in config_files:
        args += ["--config-file", path]
    for path in config_dirs:
        args += ["--config-dir", path]
    conf(args, project="svcframe", default_config_files=[], default_config_dirs=[])
    return conf


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format=f"{PROG}: %(levelname)s: %(message)s",
    )
    try:
        conf = load_config(args.config_file, args.config_dir)
        return args.handler(conf, args) or 0
    except (cfg.Error, ServiceGroupError, statedir.UnsafeStateDirectory) as exc:
        if args.debug:
            raise
        return _fail(str(exc))
    except Exception as exc:
        if args.debug:
            raise
        return _fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)")


def _fail(message):
    first_line = (message.strip().splitlines() or ["failed"])[0]
    print(f"{PROG}: error: {mask_url(first_line)}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
