"""Scheduler's client side.

Its API versions are listed in doc/source/components.rst.
"""

import warnings

from svcframe.rpcapi import RPCAPI

__all__ = ["RPC_TOPIC", "SchedulerAPI"]

RPC_TOPIC = "scheduler"


class SchedulerAPI(RPCAPI):
    """Submits tasks to a scheduler; announces an agent to all of them."""

    RPC_TOPIC = RPC_TOPIC
    RPC_API_VERSION = "1.0"
    VERSION_ALIASES = {"alpha": "1.0"}
    ALLOWED_REMOTE_EXMODS = ["svcframe.scheduler.manager"]
    TIMEOUTS = {"submit_task": 30}

    def announce(self, context, host, capabilities):
        self.prepare("announce", fanout=True).cast(
            context, "announce", host=host, capabilities=capabilities
        )

    def submit_task(self, context, kind, params=None, progress_interval=None):
        return self.prepare("submit_task").call(
            context, "submit_task", kind=kind, params=params, progress_interval=progress_interval
        )

    def list_agents(self, context):
        # On the wire the method keeps its name from when agents were workers.
        return self.prepare("list_workers").call(context, "list_workers")

    def list_workers(self, context):
        """Deprecated: use list_agents()."""
        warnings.warn(
            "SchedulerAPI.list_workers() is deprecated: use list_agents()",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.list_agents(context)
