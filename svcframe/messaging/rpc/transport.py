"""oslo_messaging.rpc.transport's name: an alias of svcframe.messaging's get_rpc_transport."""

from svcframe.messaging.transport import get_rpc_transport

__all__ = ["get_rpc_transport"]
