"""RPCAPI: the base of a component's client stubs (its ``rpcapi.py``).

What every nova ``rpcapi.py`` writes by hand, written once:

* the topic (``RPC_TOPIC``) and the API version a stub sends by default
  (``RPC_API_VERSION``);
* ``[upgrade_levels] <component>`` -- a release name from
  ``VERSION_ALIASES`` or a version -- turned into the client's version cap,
  so that during a rolling upgrade new code keeps talking to old servers;
* ``can_send_version()`` to pick the newest form of a call the cap allows;
* ``prepare(method, host=...)`` for host-directed calls, with the method's
  timeout from ``TIMEOUTS``;
* a serializer that carries the RequestContext.

A stub then reads::

    def get_task(self, ctxt, task_id):
        return self.prepare("get_task").call(ctxt, "get_task", task_id=task_id)

Keep the version history in the component's documentation.
"""

import re

from oslo_config import cfg

from svcframe import messaging
from svcframe.conf import upgrade_levels

__all__ = ["RPCAPI", "InvalidUpgradeLevel"]

_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")


class InvalidUpgradeLevel(ValueError):
    """[upgrade_levels] names neither a known release nor a version."""


class RPCAPI:
    """Client stubs of one component; subclass it in the component's rpcapi.py."""

    #: The topic the component's servers listen on.
    RPC_TOPIC = None
    #: The namespace of the component's endpoint (None for a manager).
    RPC_NAMESPACE = None
    #: The version a message carries unless the stub asks for another.
    RPC_API_VERSION = "1.0"
    #: Release names accepted in [upgrade_levels], mapped to the version they speak.
    VERSION_ALIASES = {}
    #: Seconds a call of the named method waits (default: rpc_response_timeout).
    TIMEOUTS = {}
    #: The [upgrade_levels] option name; default: RPC_TOPIC.
    UPGRADE_LEVEL_NAME = None
    #: Modules whose exceptions a call re-raises as themselves (when this client
    #: creates its own transport; a transport passed in keeps its own list).
    ALLOWED_REMOTE_EXMODS = []

    def __init__(self, transport=None, conf=None, topic=None):
        if not self.RPC_TOPIC and not topic:
            raise TypeError(f"{type(self).__name__} must define RPC_TOPIC")
        self.conf = conf if conf is not None else cfg.CONF
        self.topic = topic or self.RPC_TOPIC
        self.version_cap = self._version_cap()
        self.transport = transport or messaging.get_rpc_transport(
            self.conf, allowed_remote_exmods=self.ALLOWED_REMOTE_EXMODS
        )
        self.client = messaging.get_rpc_client(
            self.transport,
            messaging.Target(
                topic=self.topic, namespace=self.RPC_NAMESPACE, version=self.RPC_API_VERSION
            ),
            version_cap=self.version_cap,
            serializer=messaging.RequestContextSerializer(),
        )

    def _version_cap(self):
        name = self.UPGRADE_LEVEL_NAME or self.RPC_TOPIC or self.topic
        upgrade_levels.register_component(self.conf, name)
        level = self.conf[upgrade_levels.GROUP][name]
        if not level:
            return None
        version = self.VERSION_ALIASES.get(level, level)
        if not _VERSION.match(str(version)):
            known = ", ".join(sorted(self.VERSION_ALIASES)) or "none defined"
            raise InvalidUpgradeLevel(
                f"[upgrade_levels] {name} = {level!r} is neither a release name "
                f"({known}) nor a version such as 1.2"
            )
        return version

    def can_send_version(self, version):
        """True when ``version`` is within the version cap (always, without one)."""
        return self.client.can_send_version(version)

    def prepare(self, method=None, host=None, version=None, timeout=None, fanout=False):
        """A call context: to ``host`` only when given, with the method's timeout."""
        options = {}
        if host:
            options["server"] = host
        if version:
            options["version"] = version
        if timeout is None and method is not None:
            timeout = self.TIMEOUTS.get(method)
        if timeout is not None:
            options["timeout"] = timeout
        if fanout:
            options["fanout"] = True
        return self.client.prepare(**options) if options else self.client
