"""oslo_messaging.rpc's module paths, for code that imports them.

The objects are svcframe.messaging's own: ``svcframe.messaging.rpc.client.RemoteError``
is ``svcframe.messaging.RemoteError``.
"""

from svcframe.messaging.rpc import client, dispatcher, server, transport
from svcframe.messaging.rpc.client import *  # noqa: F403
from svcframe.messaging.rpc.dispatcher import *  # noqa: F403
from svcframe.messaging.rpc.server import *  # noqa: F403
from svcframe.messaging.rpc.transport import *  # noqa: F403

__all__ = [*client.__all__, *dispatcher.__all__, *server.__all__, *transport.__all__]
