"""RequestContext and the serializers that carry contexts."""

import json

from svcframe import messaging
from svcframe.context import RequestContext, get_admin_context


def test_defaults():
    ctxt = RequestContext()
    assert ctxt.request_id.startswith("req-") and len(ctxt.request_id) == 40
    assert (ctxt.user_id, ctxt.project_id, ctxt.roles, ctxt.is_admin) == (None, None, [], False)
    assert ctxt.read_deleted == "no"
    assert RequestContext().request_id != ctxt.request_id


def test_round_trip_through_json_keeps_extra_keys():
    ctxt = RequestContext(
        user_id="u", project_id="p", roles=["reader"], auth_token="tok", global_request_id="g"
    )
    back = RequestContext.from_dict(json.loads(json.dumps(ctxt.to_dict())))
    assert back == ctxt
    assert back.extra == {"global_request_id": "g"}
    assert back.to_dict()["global_request_id"] == "g"


def test_from_dict_takes_transport_keys_off_the_wire():
    ctxt = RequestContext.from_dict({"user_id": "u", "client_timeout": 30})
    assert ctxt.client_timeout == 30
    assert "client_timeout" not in ctxt.to_dict()


def test_from_dict_reads_oslo_context_names():
    ctxt = RequestContext.from_dict({"user": "u", "tenant": "p", "is_admin": True})
    assert (ctxt.user_id, ctxt.project_id, ctxt.is_admin) == ("u", "p", True)
    assert "user" not in ctxt.to_dict() and "tenant" not in ctxt.to_dict()


def test_from_dict_accepts_any_key():
    ctxt = RequestContext.from_dict({"self": 1, "cls": 2, "a-b": 3})
    assert ctxt.extra == {"self": 1, "cls": 2, "a-b": 3}


def test_admin_context():
    ctxt = get_admin_context()
    assert ctxt.is_admin and ctxt.user_id is None
    assert get_admin_context(read_deleted="yes").read_deleted == "yes"


def test_request_context_serializer_delegates_entities():
    class Upper(messaging.NoOpSerializer):
        def serialize_entity(self, ctxt, entity):
            return entity.upper()

        def deserialize_entity(self, ctxt, entity):
            return entity.lower()

    serializer = messaging.RequestContextSerializer(Upper())
    assert serializer.serialize_entity(None, "a") == "A"
    assert serializer.deserialize_entity(None, "A") == "a"
    plain = messaging.RequestContextSerializer()
    assert plain.serialize_entity(None, "a") == "a"
    ctxt = RequestContext(user_id="u")
    assert plain.serialize_context(ctxt) == ctxt.to_dict()
    assert plain.deserialize_context(ctxt.to_dict()) == ctxt


def test_noop_serializer_contexts():
    serializer = messaging.NoOpSerializer()
    assert serializer.serialize_context({"a": 1}) == {"a": 1}
    assert serializer.serialize_context(None) == {}
    assert serializer.deserialize_context({"a": 1}) == {"a": 1}
