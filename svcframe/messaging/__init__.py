"""svcframe.messaging: RPC with oslo.messaging's API names and wire format.

Porting code from oslo.messaging is a matter of changing the import::

    from svcframe import messaging

    transport = messaging.get_rpc_transport(conf)
    client = messaging.get_rpc_client(transport, messaging.Target(topic="conductor"))
    client.prepare(version="1.1").call(ctxt, "ping", arg="hello")

Drivers are loaded on demand by URL scheme, so importing this package
imports no broker library.
"""

from svcframe.messaging._utils import version_is_compatible
from svcframe.messaging.client import RPCClient, get_rpc_client
from svcframe.messaging.dispatcher import (
    DefaultRPCAccessPolicy,
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    RPCAccessPolicyBase,
    RPCDispatcher,
    expose,
)
from svcframe.messaging.exceptions import (
    DriverLoadFailure,
    ExecutorLoadFailure,
    ExpectedException,
    InvalidRequest,
    InvalidTarget,
    InvalidTransportURL,
    MessageDeliveryFailure,
    MessagingException,
    MessagingServerError,
    MessagingTimeout,
    NoSuchMethod,
    RemoteError,
    RetriableError,
    RPCDispatcherError,
    RPCVersionCapError,
    TransportUnavailable,
    UnsupportedEnvelopeVersion,
    UnsupportedVersion,
    expected_exceptions,
)
from svcframe.messaging.serializer import (
    NoOpSerializer,
    RequestContextSerializer,
    Serializer,
)
from svcframe.messaging.server import RPCServer, get_rpc_server
from svcframe.messaging.target import Target
from svcframe.messaging.transport import (
    Transport,
    TransportHost,
    TransportURL,
    get_rpc_transport,
    mask_password,
)

__all__ = [
    "Target",
    "Transport",
    "TransportHost",
    "TransportURL",
    "get_rpc_transport",
    "mask_password",
    "RPCClient",
    "get_rpc_client",
    "RPCServer",
    "get_rpc_server",
    "RPCDispatcher",
    "RPCAccessPolicyBase",
    "DefaultRPCAccessPolicy",
    "ExplicitRPCAccessPolicy",
    "LegacyRPCAccessPolicy",
    "expose",
    "version_is_compatible",
    "Serializer",
    "NoOpSerializer",
    "RequestContextSerializer",
    "MessagingException",
    "RetriableError",
    "MessagingTimeout",
    "MessageDeliveryFailure",
    "TransportUnavailable",
    "RemoteError",
    "InvalidTarget",
    "InvalidTransportURL",
    "DriverLoadFailure",
    "ExecutorLoadFailure",
    "RPCVersionCapError",
    "MessagingServerError",
    "RPCDispatcherError",
    "NoSuchMethod",
    "UnsupportedVersion",
    "InvalidRequest",
    "UnsupportedEnvelopeVersion",
    "ExpectedException",
    "expected_exceptions",
]
