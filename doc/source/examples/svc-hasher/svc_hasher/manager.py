"""The hasher's server side: every public method is an RPC method."""

import hashlib
import logging
import os
import threading

from svcframe import messaging
from svcframe.manager import Manager, periodic_task

from svc_hasher import opts

LOG = logging.getLogger(__name__)


class UnknownAlgorithm(ValueError):
    """hashlib has no algorithm of that name."""


class HasherManager(Manager):
    target = messaging.Target(version="1.0")
    service_name = "hasher"

    def __init__(self, host=None, conf=None):
        super().__init__(host=host, conf=conf)
        opts.register_opts(self.conf)
        self._lock = threading.Lock()
        self._count = 0

    # -- RPC API (1.0) -------------------------------------------------------

    @messaging.expected_exceptions(UnknownAlgorithm)
    def digest(self, context, data, algorithm=None):
        """The hex digest of the string ``data``."""
        algorithm = algorithm or self.conf.hasher.default_algorithm
        if algorithm not in hashlib.algorithms_available:
            raise UnknownAlgorithm(f"unknown algorithm {algorithm!r}")
        with self._lock:
            self._count += 1
        return hashlib.new(algorithm, data.encode("utf-8")).hexdigest()

    def stats(self, context):
        """What this process has done: call it on one host with prepare(server=host)."""
        with self._lock:
            count = self._count
        return {"host": self.host, "pid": os.getpid(), "digests": count}

    def reset_stats(self, context):
        """Set the counter back to zero (a fanout cast reaches every process)."""
        with self._lock:
            self._count = 0

    # -- periodic tasks ------------------------------------------------------

    @periodic_task.periodic_task(spacing=60)
    def _log_stats(self, context):
        """Runs every 60 s in each worker; the leading '_' keeps it off the RPC API."""
        LOG.info("%d digests so far", self.stats(context)["digests"])
