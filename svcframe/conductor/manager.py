"""Conductor's server side."""

import os

from svcframe import log, messaging
from svcframe.conf import conductor as conductor_conf
from svcframe.manager import Manager

__all__ = ["ConductorManager"]


class ConductorManager(Manager):
    """Serves the conductor API; see rpcapi.ConductorAPI for the client side."""

    target = messaging.Target(version="1.0")
    service_name = "conductor"

    def __init__(self, host=None, conf=None):
        super().__init__(host=host, conf=conf)
        conductor_conf.register_opts(self.conf)

    def describe(self, context):
        """Which process answered, and the configuration it runs with."""
        return {
            "service": self.service_name,
            "host": self.host,
            "pid": os.getpid(),
            "worker": log.get_worker_tag(),
            "api_version": self.target.version,
            "stale_task_after": self.conf.conductor.stale_task_after,
        }
