"""oslo_messaging.rpc.server's names: aliases of svcframe.messaging's objects."""

from svcframe.messaging.dispatcher import expose
from svcframe.messaging.exceptions import expected_exceptions
from svcframe.messaging.server import RPCServer, get_rpc_server

__all__ = ["RPCServer", "get_rpc_server", "expected_exceptions", "expose"]
