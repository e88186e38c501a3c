"""Conductor's client side: the stubs other components call."""

from oslo_config import cfg

from svcframe import messaging

__all__ = ["RPC_TOPIC", "ConductorAPI"]

RPC_TOPIC = "conductor"


class ConductorAPI:
    """Calls the conductor; ``host`` picks one conductor service, else any serves."""

    def __init__(self, transport=None, conf=None):
        conf = conf if conf is not None else cfg.CONF
        self.transport = transport or messaging.get_rpc_transport(conf)
        target = messaging.Target(topic=RPC_TOPIC, version="1.0")
        self.client = messaging.get_rpc_client(
            self.transport, target, serializer=messaging.RequestContextSerializer()
        )

    def describe(self, context, host=None):
        return self.client.prepare(server=host).call(context, "describe")
