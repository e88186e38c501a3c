"""BaseRPCAPI: the ``baseapi`` namespace every service answers, and its client.

``ping`` tells that a service (any worker of it) is alive and consuming,
and which configuration that worker runs; ``svc-manage rpc ping`` uses it.
The namespace is nova's, version 1.1 in full: nova's own
``nova.baserpc.BaseAPI`` client works against any svcframe service
(``ping``, and ``get_backdoor_port``, added in 1.1).
"""

import os

from svcframe import messaging
from svcframe.launcher import running_config
from svcframe.rpcapi import RPCAPI

__all__ = ["BaseRPCAPI", "BaseAPI", "NAMESPACE"]

NAMESPACE = "baseapi"


class BaseRPCAPI:
    """Server-side endpoint in namespace ``baseapi``, served next to every manager."""

    target = messaging.Target(namespace=NAMESPACE, version="1.1")

    def __init__(self, service_name, host=None, release=None, api_version=None):
        self.service_name = service_name
        self.host = host
        self.release = release
        self.api_version = api_version

    def ping(self, context, arg):
        # nova's keys first (service, arg); the rest are svcframe's.
        reply = {
            "service": self.service_name,
            "arg": arg,
            "host": self.host,
            "pid": os.getpid(),
            # The service's own API version and release, for rolling upgrades.
            "api_version": self.api_version,
            "release": self.release,
        }
        # config_generation, config_digest, config_workers: see running_config().
        reply.update(running_config())
        return reply

    def get_backdoor_port(self, context):
        """None: svcframe has no eventlet backdoor (nova answers None without one too)."""
        return None


class BaseAPI(RPCAPI):
    """Client side of ``baseapi`` for any topic; capped by ``[upgrade_levels] baseapi``."""

    RPC_NAMESPACE = NAMESPACE
    RPC_API_VERSION = "1.0"
    UPGRADE_LEVEL_NAME = "baseapi"

    def __init__(self, topic, transport=None, conf=None):
        super().__init__(transport=transport, conf=conf, topic=topic)

    def ping(self, context, arg, host=None, timeout=None):
        return self.prepare("ping", host=host, timeout=timeout).call(context, "ping", arg=arg)

    def get_backdoor_port(self, context, host):
        return self.prepare("get_backdoor_port", host=host, version="1.1").call(
            context, "get_backdoor_port"
        )
