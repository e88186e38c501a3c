"""Serializers: how contexts and arguments become JSON-safe and back."""

import abc

__all__ = ["Serializer", "NoOpSerializer", "JsonPayloadSerializer"]


class Serializer(abc.ABC):
    """Turns contexts and entities into JSON-safe values and back, as oslo.messaging's."""

    @abc.abstractmethod
    def serialize_entity(self, ctxt, entity):
        """A JSON-safe form of ``entity`` (an argument or a result)."""

    @abc.abstractmethod
    def deserialize_entity(self, ctxt, entity):
        """The object ``serialize_entity`` was given."""

    @abc.abstractmethod
    def serialize_context(self, ctxt):
        """The context as a dict of JSON-safe values (sent as ``_context_<key>``)."""

    @abc.abstractmethod
    def deserialize_context(self, ctxt):
        """The context object an endpoint receives, from the received dict."""


class NoOpSerializer(Serializer):
    """Passes entities through; contexts travel and arrive as plain dicts."""

    def serialize_entity(self, ctxt, entity):
        return entity

    def deserialize_entity(self, ctxt, entity):
        return entity

    def serialize_context(self, ctxt):
        if isinstance(ctxt, dict):
            return ctxt
        if ctxt is None:
            return {}
        to_dict = getattr(ctxt, "to_dict", None)
        if to_dict is None:
            raise TypeError(
                f"a context must be a dict or have to_dict(), not {type(ctxt).__name__}"
            )
        return to_dict()

    def deserialize_context(self, ctxt):
        return ctxt


class JsonPayloadSerializer(NoOpSerializer):
    """Turns entities into JSON primitives (objects by their ``__dict__``), as oslo.messaging's."""

    @staticmethod
    def serialize_entity(context, entity):
        from oslo_serialization import jsonutils

        return jsonutils.to_primitive(entity, convert_instances=True)


def __getattr__(name):
    # oslo_messaging.serializer's name for it; the class lives beside the
    # context it carries, and svcframe.context imports this module.
    if name == "RequestContextSerializer":
        from svcframe.context import RequestContextSerializer

        return RequestContextSerializer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
