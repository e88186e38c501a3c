"""svcframe.messaging: RPC with oslo.messaging's API names and wire format.

Porting code from oslo.messaging is a matter of changing the import::

    from svcframe import messaging

    transport = messaging.get_rpc_transport(conf)
    client = messaging.get_rpc_client(transport, messaging.Target(topic="conductor"))
    client.prepare(version="1.1").call(ctxt, "ping", arg="hello")

Drivers are loaded on demand by URL scheme, so importing this package
imports no broker library.
"""

from svcframe.masking import mask_password
from svcframe.messaging import notify, rpc, serializer
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
    ClientSendError,
    DriverLoadFailure,
    ExecutorLoadFailure,
    ExpectedException,
    InvalidRequest,
    InvalidTarget,
    InvalidTransportURL,
    MessageDeliveryFailure,
    MessageUndeliverable,
    MessagingException,
    MessagingServerError,
    MessagingTimeout,
    NoSuchMethod,
    RemoteError,
    RetriableError,
    RPCDispatcherError,
    RPCVersionCapError,
    ServerListenError,
    TransportUnavailable,
    UnroutableCall,
    UnsupportedEnvelopeVersion,
    UnsupportedVersion,
    expected_exceptions,
)
from svcframe.messaging.notify import (
    NotificationFilter,
    NotificationResult,
    Notifier,
    get_batch_notification_listener,
    get_notification_listener,
    get_notification_transport,
)
from svcframe.messaging.serializer import (
    JsonPayloadSerializer,
    NoOpSerializer,
    Serializer,
)
from svcframe.messaging.server import MessageHandlingServer, RPCServer, get_rpc_server
from svcframe.messaging.target import Target
from svcframe.messaging.transport import (
    NotificationTransport,
    RPCTransport,
    Transport,
    TransportHost,
    TransportOptions,
    TransportURL,
    get_rpc_transport,
    get_transport,
    set_transport_defaults,
)

__all__ = [
    "Target",
    "Transport",
    "RPCTransport",
    "NotificationTransport",
    "TransportHost",
    "TransportOptions",
    "TransportURL",
    "get_rpc_transport",
    "get_transport",
    "set_transport_defaults",
    "mask_password",
    "RPCClient",
    "get_rpc_client",
    "MessageHandlingServer",
    "RPCServer",
    "get_rpc_server",
    "rpc",
    "notify",
    "Notifier",
    "get_notification_transport",
    "get_notification_listener",
    "get_batch_notification_listener",
    "NotificationResult",
    "NotificationFilter",
    "RPCDispatcher",
    "RPCAccessPolicyBase",
    "DefaultRPCAccessPolicy",
    "ExplicitRPCAccessPolicy",
    "LegacyRPCAccessPolicy",
    "expose",
    "version_is_compatible",
    "Serializer",
    "NoOpSerializer",
    "JsonPayloadSerializer",
    "RequestContextSerializer",
    "MessagingException",
    "RetriableError",
    "MessagingTimeout",
    "MessageDeliveryFailure",
    "MessageUndeliverable",
    "UnroutableCall",
    "ClientSendError",
    "ServerListenError",
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


def __getattr__(name):
    # RequestContextSerializer lives beside the context it carries, in
    # svcframe.context, which imports this package: looked up on first use.
    if name == "RequestContextSerializer":
        return serializer.RequestContextSerializer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
