"""oslo_messaging.rpc.dispatcher's names: aliases of svcframe.messaging's objects."""

from svcframe.messaging.dispatcher import (
    DefaultRPCAccessPolicy,
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    RPCAccessPolicyBase,
    RPCDispatcher,
)
from svcframe.messaging.exceptions import (
    ExpectedException,
    NoSuchMethod,
    RPCDispatcherError,
    UnsupportedVersion,
)

__all__ = [
    "NoSuchMethod",
    "RPCAccessPolicyBase",
    "LegacyRPCAccessPolicy",
    "DefaultRPCAccessPolicy",
    "ExplicitRPCAccessPolicy",
    "RPCDispatcher",
    "RPCDispatcherError",
    "UnsupportedVersion",
    "ExpectedException",
]
