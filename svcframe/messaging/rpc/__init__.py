"""oslo_messaging.rpc's module paths, for code that imports them.

The objects are svcframe.messaging's own: ``svcframe.messaging.rpc.client.RemoteError``
is ``svcframe.messaging.RemoteError``.
"""

from svcframe.messaging.rpc.client import (
    ClientSendError,
    RemoteError,
    RPCClient,
    RPCVersionCapError,
    get_rpc_client,
)
from svcframe.messaging.rpc.dispatcher import (
    DefaultRPCAccessPolicy,
    ExpectedException,
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    NoSuchMethod,
    RPCAccessPolicyBase,
    RPCDispatcher,
    RPCDispatcherError,
    UnsupportedVersion,
)
from svcframe.messaging.rpc.server import RPCServer, expected_exceptions, expose, get_rpc_server
from svcframe.messaging.rpc.transport import get_rpc_transport

__all__ = [
    "ClientSendError",
    "ExpectedException",
    "NoSuchMethod",
    "RPCClient",
    "RPCAccessPolicyBase",
    "LegacyRPCAccessPolicy",
    "DefaultRPCAccessPolicy",
    "ExplicitRPCAccessPolicy",
    "RPCDispatcher",
    "RPCDispatcherError",
    "RPCVersionCapError",
    "RemoteError",
    "UnsupportedVersion",
    "expected_exceptions",
    "get_rpc_transport",
    "get_rpc_server",
    "get_rpc_client",
    "expose",
    "RPCServer",
]
