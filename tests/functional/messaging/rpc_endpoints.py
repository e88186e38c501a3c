"""Endpoints and exceptions the functional RPC tests serve.

Importable by the server and the client side alike, so that exceptions
defined here can be listed in ``allowed_remote_exmods``.
"""

import threading
import time

from svcframe import messaging


class QuotaExceeded(Exception):
    """An application error a server raises and an allowed client re-raises."""

    def __init__(self, message="quota exceeded", resource=None):
        super().__init__(message)
        self.kwargs = {"resource": resource}


class Recorder:
    """What every test server serves: echo, record, sleep, block and fail on request.

    Records each ``record`` call so that tests can wait for casts, and
    remembers the contexts it was handed.
    """

    def __init__(self, name="server"):
        self.name = name
        self.received = []
        self.contexts = []
        self._cond = threading.Condition()
        self.release = threading.Event()
        self.blocked = threading.Event()

    def echo(self, ctxt, value):
        return value

    def whoami(self, ctxt):
        return self.name

    def record(self, ctxt, value):
        with self._cond:
            self.received.append(value)
            self.contexts.append(ctxt)
            self._cond.notify_all()
        return self.name

    def context(self, ctxt):
        with self._cond:
            self.contexts.append(ctxt)
        if isinstance(ctxt, dict):
            return {"type": "dict", "values": ctxt}
        return {"type": type(ctxt).__name__, "values": ctxt.to_dict()}

    def sleep(self, ctxt, seconds):
        time.sleep(seconds)
        return seconds

    def block(self, ctxt):
        """Block until the test releases it (never longer than a minute)."""
        self.blocked.set()
        self.release.wait(60)
        return "released"

    def fail(self, ctxt, kind, message):
        if kind == "quota":
            raise QuotaExceeded(message, resource="cores")
        if kind == "value":
            raise ValueError(message)
        raise RuntimeError(message)

    @messaging.expected_exceptions(QuotaExceeded)
    def fail_expectedly(self, ctxt, message):
        raise QuotaExceeded(message, resource="ram")

    def _private(self, ctxt):
        return "private"

    def wait_for_records(self, count, timeout):
        """The first ``count`` recorded values; AssertionError if they do not arrive in time."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(
                    f"{self.name} recorded {len(self.received)} of {count} messages "
                    f"within {timeout} s: {self.received!r}"
                )
            return list(self.received[:count])


class VersionedEndpoint:
    """Implements API version 1.3 of the default namespace."""

    target = messaging.Target(version="1.3")

    def version(self, ctxt):
        return "1.3"


class ComputeAPI:
    """An endpoint in namespace 'compute'."""

    target = messaging.Target(namespace="compute", version="1.0")

    def which(self, ctxt):
        return "compute"


class ConductorAPI:
    """An endpoint in namespace 'conductor', with the same method name as ComputeAPI."""

    target = messaging.Target(namespace="conductor", version="1.0")

    def which(self, ctxt):
        return "conductor"
