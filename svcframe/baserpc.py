"""BaseRPCAPI: the ``baseapi`` namespace every service answers, and its client.

``ping`` tells that a service (any worker of it) is alive and consuming;
``svc-manage rpc ping`` uses it.
"""

import os

from svcframe import messaging

__all__ = ["BaseRPCAPI", "BaseAPI", "NAMESPACE"]

NAMESPACE = "baseapi"


class BaseRPCAPI:
    """Server-side endpoint in namespace ``baseapi``, served next to every manager."""

    target = messaging.Target(namespace=NAMESPACE, version="1.1")

    def __init__(self, service_name, host=None):
        self.service_name = service_name
        self.host = host

    def ping(self, context, arg):
        return {"service": self.service_name, "arg": arg, "host": self.host, "pid": os.getpid()}


class BaseAPI:
    """Client side of ``baseapi`` for one topic."""

    def __init__(self, transport, topic, timeout=None):
        target = messaging.Target(topic=topic, namespace=NAMESPACE, version="1.0")
        self.client = messaging.get_rpc_client(transport, target, timeout=timeout)

    def ping(self, context, arg, server=None, timeout=None):
        cctxt = self.client.prepare(server=server, timeout=timeout)
        return cctxt.call(context, "ping", arg=arg)
