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
from svcframe.messaging import exceptions, notify, rpc, serializer, transport
from svcframe.messaging._client import RPCClient, get_rpc_client
from svcframe.messaging._utils import version_is_compatible
from svcframe.messaging.dispatcher import (
    DefaultRPCAccessPolicy,
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    RPCAccessPolicyBase,
    RPCDispatcher,
    expose,
)

# Every exception, notification and transport name, as oslo_messaging's face.
from svcframe.messaging.exceptions import *  # noqa: F403
from svcframe.messaging.notify import *  # noqa: F403
from svcframe.messaging.serializer import (
    JsonPayloadSerializer,
    NoOpSerializer,
    Serializer,
)
from svcframe.messaging.server import MessageHandlingServer, RPCServer, get_rpc_server
from svcframe.messaging.target import Target
from svcframe.messaging.transport import *  # noqa: F403

__all__ = [
    "Target",
    "mask_password",
    "RPCClient",
    "get_rpc_client",
    "MessageHandlingServer",
    "RPCServer",
    "get_rpc_server",
    "rpc",
    "notify",
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
    "RequestContextSerializer",  # noqa: F405 - given by __getattr__
    *notify.__all__,
    *exceptions.__all__,
    # transport's own names for two exceptions are listed once, above.
    *(name for name in transport.__all__ if name not in exceptions.__all__),
]


def __getattr__(name):
    # RequestContextSerializer lives beside the context it carries, in
    # svcframe.context, which imports this package: looked up on first use.
    if name == "RequestContextSerializer":
        return serializer.RequestContextSerializer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
