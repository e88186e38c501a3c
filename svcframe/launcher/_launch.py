"""launch(): pick the launcher for a worker count, as oslo.service does."""

import os

from svcframe.conf import service as service_opts
from svcframe.launcher._master import ProcessLauncher
from svcframe.launcher._single import ServiceLauncher

__all__ = ["launch"]


def launch(conf, service, workers=1, restart_method="mutate", name=None):
    """Launch ``service`` and return the launcher; call its ``wait()`` next.

    :param conf: the parsed ``ConfigOpts``.
    :param service: a :class:`ServiceBase`, built but not started.
    :param workers: 1 runs the service in this process
        (:class:`ServiceLauncher`); more forks that many workers under this
        process (:class:`ProcessLauncher`); None takes ``[launcher] workers``,
        else the number of CPUs.
    :param restart_method: ``'mutate'`` or ``'reload'``: what SIGHUP does.
    :param name: the program name in process titles; default: the service's
        ``binary`` attribute, e.g. ``conductor`` shows as ``svc-conductor``.
    :returns: the launcher, whose ``wait()`` returns the exit status.
    """
    service_opts.register_opts(conf)
    if workers is None:
        workers = conf.launcher.workers or os.cpu_count() or 1
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"'workers' must be an int >= 1 or None, not: {workers!r}")
    launcher_class = ServiceLauncher if workers == 1 else ProcessLauncher
    launcher = launcher_class(conf, restart_method=restart_method, name=name)
    launcher.launch_service(service, workers=workers)
    return launcher
