"""Deprecated alias of svcframe.agent.manager."""

from svcframe.agent.manager import AgentManager
from svcframe.worker import warn_renamed

__all__ = ["WorkerManager"]

WorkerManager = AgentManager

warn_renamed("svcframe.worker.manager.WorkerManager", "svcframe.agent.manager.AgentManager")
