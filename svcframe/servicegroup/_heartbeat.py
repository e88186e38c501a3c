"""The per-process timer that reports a service's heartbeats."""

import logging
import threading
import time

from svcframe import metrics
from svcframe.masking import mask_password
from svcframe.servicegroup._exceptions import ServiceGroupError

__all__ = ["Membership"]

# The logger keeps the name log lines carried before the module became private.
LOG = logging.getLogger("svcframe.servicegroup.heartbeat")


class Membership:
    """A service's place in the group: a daemon thread reporting every report_interval.

    Returned by ``API.join``.  Nothing a report raises stops the thread: the
    first failure is logged as one line (a traceback only for an unexpected
    error), later failures are silent until a report succeeds again, which is
    logged once too.  ``stop()`` returns within ``timeout`` even when a report
    is blocked on an unreachable registry.
    """

    def __init__(
        self,
        driver,
        host,
        binary,
        topic,
        version,
        report_interval,
        initial_delay,
        release=None,
        rpc_api_version=None,
    ):
        self.host = host
        self.binary = binary
        self.topic = topic
        self.version = version
        self.release = release
        self.rpc_api_version = rpc_api_version
        # Only what is known: a driver written before these existed still reports.
        self._versions = {
            name: value
            for name, value in (("release", release), ("rpc_api_version", rpc_api_version))
            if value is not None
        }
        self._driver = driver
        self._report_interval = report_interval
        self._initial_delay = initial_delay
        self._stopping = threading.Event()
        self._failing = False
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{binary}@{host}", daemon=True
        )

    def __repr__(self):
        return f"<Membership {self.binary}@{self.host} every {self._report_interval}s>"

    @property
    def running(self):
        """True until stop() has been called and the thread has finished."""
        return self._thread.is_alive()

    def start(self):
        self._thread.start()
        return self

    def stop(self, timeout=1.0):
        """Stop reporting; wait at most ``timeout`` seconds for a report in progress."""
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self):
        if self._stopping.wait(self._initial_delay):
            return
        # Fixed rate, not fixed delay: a slow report does not push later ones back.
        next_report = time.monotonic()
        while not self._stopping.is_set():
            self._report()
            next_report += self._report_interval
            now = time.monotonic()
            if next_report < now:
                next_report = now
            if self._stopping.wait(next_report - now):
                return

    def _report(self):
        try:
            self._driver.report(self.host, self.binary, self.topic, self.version, **self._versions)
        except ServiceGroupError as exc:
            metrics.record_heartbeat("error")
            if not self._failing:
                LOG.warning(
                    "Heartbeat of %s on %s failed, retrying every %ss: %s",
                    self.binary,
                    self.host,
                    self._report_interval,
                    mask_password(exc),
                )
            self._failing = True
        except Exception:
            metrics.record_heartbeat("error")
            if not self._failing:
                LOG.exception(
                    "Heartbeat of %s on %s failed unexpectedly, retrying every %ss",
                    self.binary,
                    self.host,
                    self._report_interval,
                )
            self._failing = True
        else:
            metrics.record_heartbeat("ok")
            if self._failing:
                LOG.info(
                    "Heartbeat of %s on %s reached %s again",
                    self.binary,
                    self.host,
                    self._driver.location,
                )
            self._failing = False
