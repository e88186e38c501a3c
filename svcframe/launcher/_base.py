"""The contract a service implements to be run by a launcher, and what launchers share."""

import abc

from svcframe.conf import service as service_opts
from svcframe.launcher import _config, _proctitle

__all__ = ["EXIT_BOOT_ERROR", "EXIT_FAILURE", "EXIT_SUCCESS", "Launcher", "ServiceBase"]

#: Every worker stopped gracefully.
EXIT_SUCCESS = 0
#: Something was killed or failed: a worker past ``graceful_shutdown_timeout``,
#: a second SIGINT, an exception in ``stop()``, ``wait()`` or ``reset()``.
EXIT_FAILURE = 1
#: ``start()`` raised: in a worker, for one worker; in a master, for
#: ``[launcher] boot_failure_limit`` workers in a row.
EXIT_BOOT_ERROR = 3


class ServiceBase(abc.ABC):
    """A long-running service, as oslo.service's ``ServiceBase`` defines it.

    With ``workers > 1`` the object is built once, in the master, and each
    worker process calls ``start()`` on its own forked copy.  So ``__init__``
    must not open connections or start threads: ``start()`` does.

    A launcher names its processes after ``binary`` (or ``name``) when the
    service has that attribute.
    """

    @abc.abstractmethod
    def start(self):
        """Start serving, then return.

        Returning means the service consumes work: it is what a worker
        reports to the master as "ready", and what ``READY=1`` waits for.
        An exception is a boot failure: the process exits with status 3
        (``EXIT_BOOT_ERROR``) and the exception's text reaches the master.
        """

    @abc.abstractmethod
    def stop(self):
        """Stop taking new work; work in flight may still run.

        Called once, on SIGTERM or SIGINT, from a thread other than the one
        that called ``start()``.  ``wait()`` follows.  An exception is logged
        and the process exits with status 1.
        """

    @abc.abstractmethod
    def wait(self):
        """Block until the work in flight is done and the service stopped.

        Returning lets the process exit with status 0.  A launcher gives it
        ``graceful_shutdown_timeout`` seconds, then kills the process.
        """

    @abc.abstractmethod
    def reset(self):
        """Apply a reloaded configuration (SIGHUP), in place.

        Called after ``conf.mutate_config_files()``, so mutable options
        already have their new values.  Also called before ``start()`` in a
        worker forked after a reload: the object was built in the master,
        from the configuration it started with.  An exception is logged and the
        process stops with status 1; a master then starts a new worker with
        the new configuration.
        """


class Launcher:
    """What ServiceLauncher and ProcessLauncher share: their arguments and their one service."""

    def __init__(self, conf, restart_method="mutate", name=None):
        _config.check_restart_method(restart_method)
        service_opts.register_opts(conf)
        self.conf = conf
        self.restart_method = restart_method
        self._name = name
        self._service = None
        self._total = 0

    def launch_service(self, service, workers=1):
        """Set the service to run in ``workers`` processes; :meth:`wait` runs it."""
        if self._service is not None:
            raise RuntimeError(f"A {type(self).__name__} runs one service; it already has one")
        self._check_workers(workers)
        self._service = service
        self._total = workers
        self._name = _proctitle.program_name(service, self._name)

    def _check_workers(self, workers):
        """Raise ValueError if this launcher cannot run ``workers`` processes."""
        raise NotImplementedError
