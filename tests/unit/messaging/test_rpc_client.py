"""RPCClient: messages built, version caps, prepare(), timeouts, against a recording transport."""

import pytest

from svcframe import messaging
from svcframe.messaging import exceptions
from svcframe.messaging.transport import Transport


class RecordingDriver:
    """Stands in for a driver: records every send and answers calls with ``result``."""

    def __init__(self, conf):
        self.conf = conf
        self.sent = []
        self.result = "result"

    def send(self, target, ctxt, message, **kwargs):
        self.sent.append((target, ctxt, message, kwargs))
        return self.result if kwargs.get("wait_for_reply") else None


@pytest.fixture
def driver(conf):
    return RecordingDriver(conf)


@pytest.fixture
def client(driver):
    return messaging.get_rpc_client(Transport(driver), messaging.Target(topic="topic"))


def test_cast_message(client, driver):
    client.cast({"user_id": "u"}, "do", a=1, b=[2])
    target, ctxt, message, kwargs = driver.sent[0]
    assert target == messaging.Target(topic="topic")
    assert ctxt == {"user_id": "u"}
    assert message == {"method": "do", "args": {"a": 1, "b": [2]}}
    assert kwargs == {
        "wait_for_reply": False,
        "timeout": None,
        "call_monitor_timeout": None,
        "retry": None,
    }


def test_call_message_and_defaults(client, driver, conf):
    assert client.call({}, "get", x=1) == "result"
    _, _, message, kwargs = driver.sent[0]
    assert message == {"method": "get", "args": {"x": 1}}
    assert kwargs == {
        "wait_for_reply": True,
        "timeout": conf.rpc_response_timeout,
        "call_monitor_timeout": None,
        "retry": None,
    }


def test_namespace_and_version_only_when_set(driver):
    target = messaging.Target(topic="t", namespace="baseapi", version="1.1")
    messaging.get_rpc_client(Transport(driver), target).cast({}, "ping", arg=1)
    message = driver.sent[0][2]
    assert list(message) == ["method", "args", "namespace", "version"]
    assert message["namespace"] == "baseapi" and message["version"] == "1.1"


def test_rpc_response_timeout_read_at_call_time(client, driver, conf):
    conf.set_override("rpc_response_timeout", 7)
    client.call({}, "m")
    assert driver.sent[0][3]["timeout"] == 7


def test_client_options_reach_the_driver(driver):
    client = messaging.get_rpc_client(
        Transport(driver),
        messaging.Target(topic="t"),
        timeout=3,
        retry=2,
        call_monitor_timeout=10,
    )
    client.call({}, "m")
    client.cast({}, "m")
    assert driver.sent[0][3] == {
        "wait_for_reply": True,
        "timeout": 3,
        "call_monitor_timeout": 10,
        "retry": 2,
    }
    assert driver.sent[1][3]["wait_for_reply"] is False
    assert driver.sent[1][3]["retry"] == 2


def test_prepare_overrides_and_inherits(driver):
    client = messaging.get_rpc_client(
        Transport(driver),
        messaging.Target(topic="t", namespace="ns", version="1.0"),
        timeout=5,
        version_cap="1.5",
        retry=1,
    )
    cctxt = client.prepare(server="host2", version="1.2", timeout=9)
    assert cctxt.target == messaging.Target(
        topic="t", namespace="ns", version="1.2", server="host2"
    )
    assert (cctxt.timeout, cctxt.version_cap, cctxt.retry) == (9, "1.5", 1)
    again = cctxt.prepare(fanout=True)
    assert again.target.server == "host2" and again.target.fanout is True
    assert again.timeout == 9
    # The client itself is unchanged.
    assert client.target == messaging.Target(topic="t", namespace="ns", version="1.0")
    cctxt.call({}, "m")
    assert driver.sent[0][0].server == "host2"
    assert driver.sent[0][2]["version"] == "1.2"


def test_prepare_can_clear_a_field(driver):
    client = messaging.get_rpc_client(Transport(driver), messaging.Target(topic="t", version="2.0"))
    client.prepare(version=None).cast({}, "m")
    assert "version" not in driver.sent[0][2]


@pytest.mark.parametrize("version", ["1", "a.b", "", "1.x"])
def test_prepare_rejects_bad_versions(client, version):
    with pytest.raises(exceptions.MessagingException, match="major and minor integer"):
        client.prepare(version=version)


def test_client_rejects_bad_target_version(driver):
    with pytest.raises(exceptions.MessagingException, match="major and minor integer"):
        messaging.get_rpc_client(Transport(driver), messaging.Target(topic="t", version="one"))


def test_call_with_fanout_is_an_invalid_target(client, driver):
    with pytest.raises(exceptions.InvalidTarget, match="A call cannot be used with fanout"):
        client.prepare(fanout=True).call({}, "m")
    assert driver.sent == []


def test_cast_with_fanout(client, driver):
    client.prepare(fanout=True).cast({}, "m")
    assert driver.sent[0][0].fanout is True


def test_send_without_topic_is_an_invalid_target(driver):
    client = messaging.get_rpc_client(Transport(driver), messaging.Target())
    with pytest.raises(exceptions.InvalidTarget):
        client.cast({}, "m")


CAP_CASES = [
    # (cap, target version, allowed)
    (None, None, True),
    (None, "9.9", True),
    ("1.5", "1.5", True),
    ("1.5", "1.2", True),
    ("1.5", "1.6", False),
    ("1.5", "2.0", False),
    ("1.5", None, False),
    ("1.5.1", "1.5.2", False),
]


@pytest.mark.parametrize(("cap", "version", "allowed"), CAP_CASES)
def test_version_cap_is_checked_before_sending(driver, cap, version, allowed):
    client = messaging.get_rpc_client(
        Transport(driver), messaging.Target(topic="t", version=version), version_cap=cap
    )
    assert client.can_send_version() is allowed
    for send in (client.call, client.cast):
        if allowed:
            send({}, "m")
        else:
            with pytest.raises(exceptions.RPCVersionCapError) as info:
                send({}, "m")
            assert (info.value.version, info.value.version_cap) == (version, cap)
    assert len(driver.sent) == (2 if allowed else 0)


def test_can_send_version_of_another_version(driver):
    client = messaging.get_rpc_client(
        Transport(driver), messaging.Target(topic="t", version="1.0"), version_cap="1.3"
    )
    assert client.can_send_version("1.3")
    assert not client.can_send_version("1.4")
    assert client.prepare(version_cap="1.4").can_send_version("1.4")
    assert not client.prepare(version="1.4").can_send_version()


def test_version_cap_follows_later_changes(driver):
    client = messaging.get_rpc_client(
        Transport(driver), messaging.Target(topic="t", version="1.4"), version_cap="1.4"
    )
    client.cast({}, "m")
    client.version_cap = "1.3"
    with pytest.raises(exceptions.RPCVersionCapError):
        client.cast({}, "m")


class Tagging(messaging.Serializer):
    def serialize_entity(self, ctxt, entity):
        return {"tagged": entity, "ctxt": ctxt}

    def deserialize_entity(self, ctxt, entity):
        return ("back", entity, ctxt)

    def serialize_context(self, ctxt):
        return {"user": ctxt}

    def deserialize_context(self, ctxt):
        raise AssertionError("not used by a client")


def test_serializer_hooks(driver):
    client = messaging.get_rpc_client(
        Transport(driver), messaging.Target(topic="t"), serializer=Tagging()
    )
    assert client.call("alice", "m", a=1) == ("back", "result", "alice")
    _, ctxt, message, _ = driver.sent[0]
    assert ctxt == {"user": "alice"}
    # serialize_entity sees the caller's context object, as in oslo.messaging.
    assert message["args"] == {"a": {"tagged": 1, "ctxt": "alice"}}


def test_noop_serializer_accepts_request_contexts(client, driver):
    from svcframe.context import RequestContext

    ctxt = RequestContext(user_id="u", request_id="req-1")
    client.cast(ctxt, "m")
    assert driver.sent[0][1]["user_id"] == "u"
    with pytest.raises(TypeError, match="must be a dict or have to_dict"):
        client.cast(object(), "m")
