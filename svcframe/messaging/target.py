"""Target: where a message goes, or what a server listens for."""

__all__ = ["Target"]

_FIELDS = ("exchange", "topic", "namespace", "version", "server", "fanout", "legacy_namespaces")


class Target:
    """Identifies the destination of messages, as oslo.messaging's Target.

    A client's target names the topic (and optionally a server, a namespace
    and the API version it speaks); a server's target names the topic and
    server it listens on; an endpoint's target gives the namespace and
    version it implements.
    """

    __slots__ = _FIELDS

    def __init__(
        self,
        exchange=None,
        topic=None,
        namespace=None,
        version=None,
        server=None,
        fanout=None,
        legacy_namespaces=None,
    ):
        self.exchange = exchange
        self.topic = topic
        self.namespace = namespace
        self.version = version
        self.server = server
        self.fanout = fanout
        self.legacy_namespaces = list(legacy_namespaces or [])

    @property
    def accepted_namespaces(self):
        return [self.namespace] + self.legacy_namespaces

    def __call__(self, **kwargs):
        values = {f: getattr(self, f) for f in _FIELDS}
        values["legacy_namespaces"] = list(self.legacy_namespaces)
        values.update(kwargs)
        return Target(**values)

    def __eq__(self, other):
        return isinstance(other, Target) and all(
            getattr(self, f) == getattr(other, f) for f in _FIELDS
        )

    def __hash__(self):
        return hash(tuple(getattr(self, f) for f in _FIELDS if f != "legacy_namespaces"))

    def __repr__(self):
        attrs = ", ".join(
            f"{f}={getattr(self, f)!r}" for f in _FIELDS[:-1] if getattr(self, f) is not None
        )
        return f"<Target {attrs}>"
