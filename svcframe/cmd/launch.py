"""svc-launch: run a component as a service, in this process or in forked workers.

    svc-launch --binary conductor --config-file etc/svc.conf [--workers 4]

Every failure to start (a config file missing or broken, an unknown
binary, a broker that cannot be reached) ends with one paragraph on
stderr and a non-zero exit status, never a traceback.
"""

import contextlib
import io
import logging
import os
import re
import sys
import traceback

from oslo_config import cfg

from svcframe import components, log, statedir
from svcframe import service as service_module
from svcframe.cmd import config_errors, errors
from svcframe.conf import database as database_conf
from svcframe.conf import service as service_conf
from svcframe.conf import sources
from svcframe.launcher import MetricsListenError

__all__ = ["main"]

LOG = logging.getLogger(__name__)

#: As the launcher's: the service could not start.
EXIT_BOOT_ERROR = 3


_DESCRIPTION = (
    "Run a svcframe component as a service: an RPC server on the topic, "
    "topic.host and fanout consumers, with periodic tasks and heartbeats. "
    "With more than one worker, a master process forks the workers, restarts "
    "those that die or hang, and handles signals: SIGTERM/SIGINT stop gracefully "
    "(in-flight requests finish), SIGHUP re-reads the config files."
)
_EPILOG = "Installed components: {components}."


def _cli_opts():
    host = next(opt for opt in service_conf.service_opts if opt.dest == "host")
    return [
        cfg.StrOpt(
            "binary",
            required=True,
            metavar="NAME",
            help="Component to run, e.g. conductor (or svc-conductor).",
        ),
        cfg.IntOpt(
            "workers",
            min=1,
            metavar="N",
            help="Worker processes; default: [<component>] workers, else "
            "[launcher] workers, else the number of CPUs. 1 runs in this process.",
        ),
        host,
    ]


def _fail(message):
    return errors.fail("svc-launch", message, config_errors.EXIT_CONFIG)


# What oslo.config writes before SystemExit(1) when a command-line option has
# an invalid value, whether it came from the command line or a config file.
_INVALID_CLI_VALUE = re.compile(r"^argument --(?P<name>[\w-]+): (?P<reason>.*)$")


class _InvalidCliValue(Exception):
    pass


def _parse(conf, argv, **kwargs):
    """``conf(argv, **kwargs)``, with oslo.config's invalid-value exit made an exception."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            conf(argv, **kwargs)
    except SystemExit as exc:
        text = captured.getvalue().strip()
        match = _INVALID_CLI_VALUE.match(text)
        if exc.code == 1 and match:
            name = match["name"].replace("-", "_")
            raise _InvalidCliValue(
                f"--{match['name']} (or [DEFAULT] {name} in a config file): {match['reason']}"
            ) from None
        sys.stderr.write(captured.getvalue())
        raise
    sys.stderr.write(captured.getvalue())


def _workers(conf, binary):
    if conf.workers:
        return conf.workers
    group = components.resolve(binary)
    try:
        configured = conf[group].workers
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError):
        configured = None
    return configured or conf.launcher.workers or os.cpu_count() or 1


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    conf = cfg.CONF
    conf.register_cli_opts(_cli_opts())
    log.register_options(conf)
    service_module.register_opts(conf)
    database_conf.register_opts(conf)
    try:
        installed = ", ".join(components.names()) or "none"
        _parse(
            conf,
            argv,
            project=sources.PROJECT,
            prog="svc-launch",
            description=_DESCRIPTION,
            epilog=_EPILOG.format(components=installed),
            default_config_files=sources.default_config_files(),
            default_config_dirs=sources.default_config_dirs(),
        )
        sources.anchor_relative_paths(conf)
    except _InvalidCliValue as exc:
        return _fail(f"invalid configuration: {exc}")
    except (cfg.Error, ValueError) as exc:
        return _fail(config_errors.describe(exc))

    try:
        # Before anything is created there: refuse a directory others can write.
        for directory in statedir.service_state_dirs(conf):
            statedir.ensure_private_dir(directory)
    except statedir.UnsafeStateDirectory as exc:
        return _fail(exc)
    except OSError as exc:
        return _fail(f"cannot create the state directory: {exc}")

    try:
        manager_class = components.load_manager_class(conf.binary)
        server = service_module.Service.create(
            binary=_program_name(conf.binary), manager=manager_class, conf=conf
        )
        # Options a worker reads only after the fork fail here, with exit status 2.
        config_errors.check_values(conf)
        log.setup(conf, "svcframe")
        _warn_if_renamed(conf.binary)
        LOG.debug("Configuration files: %s", sources.describe_files(conf))
        LOG.debug("State directory: %s", conf.state_path)
        workers = _workers(conf, conf.binary)
    except (components.ComponentNotFound, components.ComponentLoadError) as exc:
        return _fail(exc)
    except (cfg.Error, ValueError) as exc:
        return _fail(config_errors.describe(exc))
    except Exception as exc:
        # The manager's own __init__ failed: a boot failure, in one line without debug.
        if conf.debug:
            traceback.print_exc()
        lines = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        hint = "" if conf.debug else " (debug = true shows the traceback)"
        _fail(f"cannot create the service: {reason}{hint}")
        return EXIT_BOOT_ERROR

    launcher = service_module.serve(server, workers=workers)
    try:
        return launcher.wait()
    except MetricsListenError as exc:
        return _fail(exc)


def _warn_if_renamed(binary):
    # Once, in the master: workers inherit the name and do not repeat it.
    new = components.renamed_to(binary)
    if new:
        LOG.warning(
            "The component name %r is deprecated and will be removed in a future release: "
            "use --binary %s. Under the old name this service still registers as %s, as "
            "before; under the new one it registers as %s.",
            components.component_name(binary),
            new,
            _program_name(binary),
            _program_name(new),
        )


def _program_name(binary):
    """``conductor`` -> ``svc-conductor``: the binary name services register under.

    A deprecated component name keeps its own (``worker`` -> ``svc-worker``).
    """
    name = components.component_name(binary)
    return components.BINARY_PREFIX + name


if __name__ == "__main__":
    sys.exit(main())
