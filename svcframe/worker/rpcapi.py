"""Deprecated alias of svcframe.agent.rpcapi."""

from svcframe.agent.rpcapi import RPC_TOPIC, AgentAPI
from svcframe.worker import warn_renamed

__all__ = ["RPC_TOPIC", "WorkerAPI"]

WorkerAPI = AgentAPI

warn_renamed("svcframe.worker.rpcapi.WorkerAPI", "svcframe.agent.rpcapi.AgentAPI")
