"""RequestContext: who is asking, carried with every RPC message, and its serializer."""

import uuid

from svcframe.messaging.serializer import Serializer

__all__ = ["RequestContext", "RequestContextSerializer", "get_admin_context"]

# Keys a transport adds to the context it hands to a server; they describe
# this delivery, so they are kept off the wire when the context is passed on.
_TRANSPORT_KEYS = ("client_timeout",)
_FIELDS = (
    "user_id",
    "project_id",
    "roles",
    "is_admin",
    "auth_token",
    "read_deleted",
    "request_id",
)


def _generate_request_id():
    return "req-" + str(uuid.uuid4())


class RequestContext:
    """The security and tracing context of one request; JSON-safe by construction.

    Keys other than the named attributes are kept in ``extra`` and sent on
    with the context, so a context passes unchanged through services that
    do not know every key.
    """

    def __init__(
        self,
        user_id=None,
        project_id=None,
        roles=None,
        is_admin=False,
        auth_token=None,
        read_deleted="no",
        request_id=None,
        **extra,
    ):
        self.user_id = user_id
        self.project_id = project_id
        self.roles = list(roles or [])
        self.is_admin = bool(is_admin)
        self.auth_token = auth_token
        self.read_deleted = read_deleted
        self.request_id = request_id or _generate_request_id()
        # The call-monitor timeout of the request being served, if any.
        self.client_timeout = None
        self.extra = extra

    def to_dict(self):
        """The context as a JSON-safe dict, extra keys included."""
        values = dict(self.extra)
        values.update(
            user_id=self.user_id,
            project_id=self.project_id,
            roles=list(self.roles),
            is_admin=self.is_admin,
            auth_token=self.auth_token,
            read_deleted=self.read_deleted,
            request_id=self.request_id,
        )
        return values

    @classmethod
    def from_dict(cls, values):
        """A context from ``to_dict()`` output, or from an oslo.context / nova context dict."""
        values = dict(values)
        transport = {key: values.pop(key) for key in _TRANSPORT_KEYS if key in values}
        # oslo.context and nova send the older 'user' and 'tenant' names too.
        user = values.pop("user", None)
        tenant = values.pop("tenant", None)
        values.setdefault("user_id", user)
        values.setdefault("project_id", tenant)
        known = {key: values.pop(key) for key in _FIELDS if key in values}
        ctxt = cls(**known)
        # Assigned, not passed as keywords: any string may be a key here.
        ctxt.extra = values
        ctxt.client_timeout = transport.get("client_timeout")
        return ctxt

    def __eq__(self, other):
        return isinstance(other, RequestContext) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return (
            f"<RequestContext request_id={self.request_id} user_id={self.user_id} "
            f"project_id={self.project_id} is_admin={self.is_admin}>"
        )


def get_admin_context(read_deleted="no"):
    """A context with admin rights and no user, for the service's own work."""
    return RequestContext(is_admin=True, read_deleted=read_deleted)


class RequestContextSerializer(Serializer):
    """Carries RequestContext over RPC; entities go through ``base`` if given."""

    def __init__(self, base=None):
        self._base = base

    def serialize_entity(self, ctxt, entity):
        if self._base is None:
            return entity
        return self._base.serialize_entity(ctxt, entity)

    def deserialize_entity(self, ctxt, entity):
        if self._base is None:
            return entity
        return self._base.deserialize_entity(ctxt, entity)

    def serialize_context(self, ctxt):
        if isinstance(ctxt, dict):
            return ctxt
        return ctxt.to_dict()

    def deserialize_context(self, ctxt):
        return RequestContext.from_dict(ctxt)
