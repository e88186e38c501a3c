"""Conductor's client side: the stubs other components call."""

from svcframe.rpcapi import RPCAPI

__all__ = ["RPC_TOPIC", "ConductorAPI"]

RPC_TOPIC = "conductor"


class ConductorAPI(RPCAPI):
    """Calls the conductor; ``host`` picks one conductor service, else any serves."""

    RPC_TOPIC = RPC_TOPIC
    RPC_API_VERSION = "1.0"

    def describe(self, context, host=None):
        return self.prepare("describe", host=host).call(context, "describe")
