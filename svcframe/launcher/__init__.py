"""Run a service in this process or in forked workers, under signals and systemd.

``launch(conf, service, workers)`` returns a launcher whose ``wait()``
returns the exit status.  The service implements :class:`ServiceBase`
(oslo.service's contract: ``start``, ``stop``, ``wait``, ``reset``).
"""

from svcframe.launcher._base import EXIT_BOOT_ERROR, EXIT_FAILURE, EXIT_SUCCESS, ServiceBase
from svcframe.launcher._generation import running_config
from svcframe.launcher._launch import launch
from svcframe.launcher._master import ProcessLauncher
from svcframe.launcher._observe import MetricsListenError
from svcframe.launcher._single import ServiceLauncher

__all__ = [
    "EXIT_BOOT_ERROR",
    "EXIT_FAILURE",
    "EXIT_SUCCESS",
    "MetricsListenError",
    "ProcessLauncher",
    "ServiceBase",
    "ServiceLauncher",
    "launch",
    "running_config",
]
