"""Conductor's client side: the stubs other components call.

Its API versions are listed in doc/source/components.rst.
"""

from svcframe.rpcapi import RPCAPI

__all__ = ["RPC_TOPIC", "ConductorAPI"]

RPC_TOPIC = "conductor"


class ConductorAPI(RPCAPI):
    """Calls the conductor; any conductor service answers unless ``host`` is given."""

    RPC_TOPIC = RPC_TOPIC
    RPC_API_VERSION = "1.0"
    VERSION_ALIASES = {"alpha": "1.0", "beta": "1.1"}
    ALLOWED_REMOTE_EXMODS = ["svcframe.conductor.tasks"]

    def describe(self, context, host=None):
        return self.prepare("describe", host=host).call(context, "describe")

    def create_task(self, context, kind, params=None):
        cctxt = self.prepare("create_task", version="1.1")
        return cctxt.call(context, "create_task", kind=kind, params=params)

    def get_task(self, context, task_id):
        return self.prepare("get_task", version="1.1").call(context, "get_task", task_id=task_id)

    def list_tasks(self, context, status=None, limit=100):
        cctxt = self.prepare("list_tasks", version="1.1")
        return cctxt.call(context, "list_tasks", status=status, limit=limit)

    def update_task(self, context, task_id, **changes):
        cctxt = self.prepare("update_task", version="1.1")
        cctxt.cast(context, "update_task", task_id=task_id, **changes)
