"""oslo_messaging.rpc.client's names: aliases of svcframe.messaging's objects."""

from svcframe.messaging._client import RPCClient, get_rpc_client
from svcframe.messaging.exceptions import ClientSendError, RemoteError, RPCVersionCapError

__all__ = ["ClientSendError", "RPCClient", "RPCVersionCapError", "RemoteError", "get_rpc_client"]
