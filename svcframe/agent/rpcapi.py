"""Agent's client side: the stubs the scheduler calls.

Its API versions are listed in doc/source/components.rst.
"""

from svcframe.rpcapi import RPCAPI

__all__ = ["RPC_TOPIC", "AgentAPI"]

#: The agent's topic keeps the name it had when the component was called
#: worker: it is where schedulers of every release send tasks.
RPC_TOPIC = "worker"


class AgentAPI(RPCAPI):
    """Casts tasks to one agent host."""

    RPC_TOPIC = RPC_TOPIC
    RPC_API_VERSION = "1.0"
    VERSION_ALIASES = {"alpha": "1.0", "beta": "1.1"}
    # [upgrade_levels] worker, its name before, is still read.
    UPGRADE_LEVEL_NAME = "agent"

    def run_task(self, context, host, task, progress_interval=None):
        kwargs = {"task": task}
        version = "1.0"
        if self.can_send_version("1.1"):
            version = "1.1"
            kwargs["progress_interval"] = progress_interval
        # Older agents (1.0) do not know progress_interval: it is left out.
        self.prepare("run_task", host=host, version=version).cast(context, "run_task", **kwargs)

    def capabilities(self, context, host):
        return self.prepare("capabilities", host=host, version="1.1").call(context, "capabilities")
