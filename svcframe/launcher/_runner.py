"""Run one service in the current process until a signal stops it."""

import logging
import signal
import threading

from svcframe.launcher import _config
from svcframe.launcher._base import EXIT_BOOT_ERROR, EXIT_FAILURE, EXIT_SUCCESS
from svcframe.launcher._signals import WAKE, SignalManager, signal_name

__all__ = ["Runner", "SIGNALS", "describe_error"]

LOG = logging.getLogger("svcframe.launcher")

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Runner:
    """``start()``, then dispatch signals on the main thread until stopped.

    SIGTERM and SIGINT run ``stop()`` and ``wait()`` in a thread, so that the
    main thread still sees signals meanwhile: a second SIGINT exits at once.
    SIGHUP runs :meth:`reload`.  Subclasses say what "ready" and "reload"
    mean for them.
    """

    #: How loud a failed ``start()`` is logged here; a worker's master reports it.
    boot_failure_level = logging.ERROR

    def __init__(self, conf, service):
        self.conf = conf
        self.service = service
        self.signals = None
        self._stopper = None
        self._stopped = threading.Event()
        self._status = EXIT_SUCCESS

    @property
    def stopping(self):
        return self._stopper is not None

    @property
    def stuck(self):
        """True if the service's ``stop()`` or ``wait()`` has not returned."""
        return self._stopper is not None and not self._stopped.is_set()

    def run(self, signals=None):
        """Run the service; the exit status to give the process.

        ``signals`` is a :class:`SignalManager` for TERM, INT and HUP, made
        by the caller when signals must not be missed before this call.
        """
        self.signals = signals or SignalManager(SIGNALS)
        try:
            self.prepare()
            self.service.start()
        except Exception as exc:
            # One line; the traceback with debug = true (svc-launch --debug).
            LOG.log(self.boot_failure_level, "Service failed to start: %s", describe_error(exc))
            LOG.debug("Service failed to start", exc_info=True)
            self.on_boot_failure(exc)
            return EXIT_BOOT_ERROR
        self.on_ready()
        while True:
            for signum in self.signals.wait(self.timeout()):
                if signum == WAKE and self._stopped.is_set():
                    return self._status
                if signum in (signal.SIGTERM, signal.SIGINT):
                    if not self.stopping:
                        LOG.info("Caught %s, stopping the service", signal_name(signum))
                        self.begin_stop()
                    elif signum == signal.SIGINT:
                        LOG.warning("Caught SIGINT again, exiting at once")
                        return EXIT_FAILURE
                elif signum == signal.SIGHUP and not self.stopping:
                    LOG.info("Caught SIGHUP, applying the new configuration")
                    try:
                        self.reload()
                    except Exception:
                        LOG.exception("Could not apply the new configuration, stopping")
                        self.begin_stop(EXIT_FAILURE)
            status = self.tick()
            if status is not None:
                return status

    def begin_stop(self, status=EXIT_SUCCESS):
        self._status = status
        self.on_stop()
        self._stopper = threading.Thread(target=self._stop, name="svcframe-stop", daemon=True)
        self._stopper.start()

    def _stop(self):
        try:
            self.service.stop()
            self.service.wait()
        except Exception:
            LOG.exception("Service failed to stop cleanly")
            self._status = EXIT_FAILURE
        self._stopped.set()
        self.signals.wake()

    def reload(self):
        """Apply the configuration files as they are now (SIGHUP)."""
        _, failure = _config.attempt(self.apply_config)
        if failure is not None:
            LOG.error("Reload failed, keeping the current configuration: %s", failure)

    def apply_config(self):
        """Apply the mutable options of the files and call ``reset()``.

        :returns: the :class:`_config.Changes`.
        :raises _config.ReloadFailed: the files could not be read or give
            an option an invalid value: the current configuration stays,
            and ``reset()`` is not called.
        """
        changes = _config.mutate(self.conf)
        self.service.reset()
        return changes

    def prepare(self):
        """Runs right before ``start()``; an exception is a boot failure."""

    def timeout(self):
        """Longest wait for a signal before :meth:`tick` runs; None: forever."""
        return None

    def tick(self):
        """Called after each wait; an int return ends :meth:`run` with it."""
        return None

    def on_ready(self):
        """``start()`` returned."""

    def on_boot_failure(self, exc):
        """``start()`` raised ``exc``."""

    def on_stop(self):
        """Stopping begins."""


def describe_error(exc):
    """``Type: message`` on one line, for a log line that stands for a traceback."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
