"""ServiceLauncher: run a service in the launching process, without workers."""

import logging
import os
import time

from svcframe import systemd
from svcframe.launcher import _config, _generation, _proctitle, _report
from svcframe.launcher._base import EXIT_BOOT_ERROR, EXIT_FAILURE, Launcher
from svcframe.launcher._observe import SingleObserver
from svcframe.launcher._runner import Runner

__all__ = ["ServiceLauncher"]

LOG = logging.getLogger("svcframe.launcher")


class _SingleRunner(Runner):
    """A Runner that speaks to systemd and enforces its own stop timeout."""

    def __init__(self, conf, service, restart_method, name):
        super().__init__(conf, service)
        self.restart_method = restart_method
        self.name = name
        self.generation = 0
        self.option_keys = _config.option_keys(conf)
        self.digest = None
        self.show_config()
        self._watchdog_interval = systemd.watchdog_interval()
        self._next_watchdog = time.monotonic()
        self._kill_at = None

    def on_ready(self):
        self.ready = True
        LOG.info("Service ready")
        systemd.notify_ready("ready")

    def on_boot_failure(self, exc):
        systemd.notify_status(f"failed to start: {type(exc).__name__}: {exc}")

    def on_stop(self):
        systemd.notify_stopping("stopping")
        timeout = self.conf.graceful_shutdown_timeout
        self._kill_at = time.monotonic() + timeout if timeout else None

    def show_config(self):
        """Put the generation and digest this process runs in its title and ping replies."""
        self.digest = _config.digest(self.conf, self.option_keys)
        _generation.set_running(self.generation, self.digest)
        _proctitle.set_single_title(self.name, self.generation, self.digest)

    def reload(self):
        systemd.notify_reloading("reloading")
        applied, failure = _config.attempt(self._apply)
        if failure is not None:
            LOG.error(
                "Reload failed, keeping configuration %d (%s): %s",
                self.generation,
                self.digest,
                failure,
            )
        elif applied:
            self.generation += 1
            self.show_config()
        LOG.info("Reload done")
        systemd.notify_ready("ready")

    def _apply(self):
        """Apply the files; True if the configuration changed."""
        if self.restart_method == "mutate":
            changes = self.apply_config()
            if changes.immutable:
                # Without workers there is nothing to roll: say what waits
                # for a restart, in one line.
                LOG.warning(
                    "Options that need a restart changed, not applied until the service "
                    "restarts: %s",
                    changes.describe(changes.immutable),
                )
            return bool(changes.mutable)
        _config.reload(self.conf)
        self.service.stop()
        self.service.wait()
        self.service.reset()
        self.service.start()
        return True

    def timeout(self):
        deadlines = []
        if self._watchdog_interval:
            deadlines.append(self._next_watchdog)
        if self._kill_at is not None:
            deadlines.append(self._kill_at)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def tick(self):
        now = time.monotonic()
        if self._kill_at is not None and now >= self._kill_at:
            LOG.error(
                "Graceful shutdown timeout (%s s) exceeded, exiting",
                self.conf.graceful_shutdown_timeout,
            )
            return EXIT_FAILURE
        if self._watchdog_interval and now >= self._next_watchdog:
            self._next_watchdog = now + self._watchdog_interval
            systemd.notify_watchdog()
        return None


class ServiceLauncher(Launcher):
    """Run one service in this process (``workers=1``).

    Signals are handled on the main thread as in :class:`ProcessLauncher`:
    SIGTERM and SIGINT stop the service gracefully, a second SIGINT exits at
    once, SIGHUP applies the configuration files (``restart_method``: see
    :class:`ProcessLauncher`; ``'reload'`` here stops, resets and starts the
    service again in place).
    """

    def _check_workers(self, workers):
        if workers != 1:
            raise ValueError(f"A ServiceLauncher runs exactly 1 worker, not: {workers!r}")

    def wait(self):
        """Start the service and run it until stopped; return the exit status.

        0: stopped gracefully.  1: ``stop()``, ``wait()`` or ``reset()``
        raised, or a second SIGINT.  3: ``start()`` raised.  If
        ``graceful_shutdown_timeout`` passes first, the process exits with
        status 1 at once (``os._exit``): the service's threads are stuck.
        """
        if self._service is None:
            raise RuntimeError("launch_service() must be called before wait()")
        _config.log_options(self.conf)
        runner = _SingleRunner(self.conf, self._service, self.restart_method, self._name)
        observer = SingleObserver(self.conf, self._name, self._service, runner)
        _report.install(self.conf, self._name)
        try:
            status = runner.run()
        finally:
            observer.close()
            if runner.signals is not None:
                runner.signals.close()
            # The process no longer runs the service it pings for.
            _generation.set_running(None, None)
        if status == EXIT_BOOT_ERROR:
            LOG.error("Service failed to start, exiting with status %d", status)
        else:
            LOG.info("Service stopped, exiting with status %d", status)
        if runner.stuck:
            logging.shutdown()
            os._exit(status)
        return status
