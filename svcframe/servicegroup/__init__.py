"""Which services are alive: heartbeats, up/down state and service administration.

::

    api = servicegroup.API(conf)
    membership = api.join(host, "svc-conductor", topic="conductor")
    ...
    api.get_up_hosts("svc-conductor")     # where prepare(server=host) may go
    membership.stop()
"""

from svcframe.servicegroup._api import API
from svcframe.servicegroup._exceptions import (
    RegistryUnavailable,
    SchemaNotCurrent,
    ServiceGroupError,
    ServiceNotFound,
)
from svcframe.servicegroup._heartbeat import Membership
from svcframe.servicegroup._record import ServiceRecord

__all__ = [
    "API",
    "Membership",
    "RegistryUnavailable",
    "SchemaNotCurrent",
    "ServiceGroupError",
    "ServiceNotFound",
    "ServiceRecord",
]
