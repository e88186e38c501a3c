"""The endpoints every interop server exposes, whatever library serves them.

Nothing here imports oslo.messaging or svcframe: the peer script attaches a
``target`` of its own library to the versioned endpoint, so an oslo.messaging
server and an svcframe server run exactly the same code.
"""

import threading
import time

import interop_exc


class UnlistedError(Exception):
    """Raised from a module no client allows: always a RemoteError."""


class Endpoint:
    """The default-namespace endpoint (version 1.0)."""

    def __init__(self, server_name, impl):
        self.server_name = server_name
        self.impl = impl
        self._lock = threading.Lock()
        self._records = []

    def echo(self, ctxt, value):
        return value

    def add(self, ctxt, a, b):
        return a + b

    def nothing(self, ctxt):
        return None

    def primitive(self, ctxt):
        # Not JSON types: both libraries turn them into lists on the wire.
        return {"tuple": (1, 2), "set": {3}}

    def context(self, ctxt):
        return dict(ctxt) if isinstance(ctxt, dict) else ctxt.to_dict()

    def whoami(self, ctxt):
        return {"server": self.server_name, "impl": self.impl}

    def raise_custom(self, ctxt, message, code):
        raise interop_exc.InteropError(message, code=code)

    def raise_value_error(self, ctxt, message):
        raise ValueError(message)

    def raise_unlisted(self, ctxt):
        raise UnlistedError("not in any allowed module")

    def slow(self, ctxt, seconds):
        time.sleep(seconds)
        return seconds

    def record(self, ctxt, tag):
        with self._lock:
            self._records.append(tag)

    def records(self, ctxt):
        with self._lock:
            return list(self._records)

    def has_record(self, ctxt, tag):
        with self._lock:
            return {"impl": self.impl, "found": tag in self._records}

    def _private(self, ctxt):
        return "must never be called"


class VersionedEndpoint:
    """Namespace ``interop``, version 1.3; the peer script sets ``target``."""

    def ns_echo(self, ctxt, value):
        return {"ns": value}
