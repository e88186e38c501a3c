"""Notifications without a broker: the message a Notifier sends, dispatching, filtering."""

import datetime
import uuid

import pytest

from svcframe import messaging
from svcframe.conf import notifications
from svcframe.context import RequestContext
from svcframe.messaging import _wire as wire
from svcframe.messaging.drivers.kombu.notify import encode_notification
from svcframe.messaging.notify.dispatcher import BatchNotificationDispatcher, NotificationDispatcher


class RecordingTransport:
    """Stands where a NotificationTransport is: records what the driver sends."""

    def __init__(self, conf):
        self.conf = conf
        self.sent = []

    def _send_notification(self, target, ctxt, message, version, retry=None):
        self.sent.append((target.topic, ctxt, message, version, retry))


@pytest.fixture
def transport(conf):
    return RecordingTransport(conf)


def test_a_notification_has_oslo_messaging_keys(transport):
    notifier = messaging.Notifier(transport, "conductor.node1", driver="messagingv2", topics=["n"])
    ctxt = RequestContext(user_id="u1", auth_token="secret")

    notifier.info(ctxt, "task.create", {"id": 1})

    ((topic, sent_ctxt, message, version, retry),) = transport.sent
    assert (topic, version, retry) == ("n.info", 2.0, -1)
    assert list(message) == [
        "message_id",
        "publisher_id",
        "event_type",
        "priority",
        "payload",
        "timestamp",
    ]
    assert message["publisher_id"] == "conductor.node1"
    assert message["priority"] == "INFO" and message["event_type"] == "task.create"
    assert message["payload"] == {"id": 1}
    uuid.UUID(message["message_id"])
    # str(timeutils.utcnow()): naive UTC with microseconds.
    datetime.datetime.strptime(message["timestamp"], "%Y-%m-%d %H:%M:%S.%f")
    assert sent_ctxt["user_id"] == "u1" and "auth_token" not in sent_ctxt


def test_every_priority_and_prepare(transport):
    notifier = messaging.Notifier(transport, "p", driver="messaging", topics=["a", "b"])
    for method in ("audit", "debug", "info", "warn", "warning", "error", "critical", "sample"):
        getattr(notifier, method)({}, "e", None)
    notifier.prepare(publisher_id="other", retry=3).error({}, "e", None)

    topics = [sent[0] for sent in transport.sent]
    assert topics[:4] == ["a.audit", "b.audit", "a.debug", "b.debug"]
    assert {sent[2]["priority"] for sent in transport.sent} == {
        "AUDIT",
        "DEBUG",
        "INFO",
        "WARN",
        "ERROR",
        "CRITICAL",
        "SAMPLE",
    }
    assert {sent[3] for sent in transport.sent} == {1.0}
    last = transport.sent[-1]
    assert last[2]["publisher_id"] == "other" and last[4] == 3
    # A plain dict context is not sent, as with oslo.messaging.
    assert transport.sent[0][1] == {}


def test_no_driver_configured_sends_nothing(transport):
    notifier = messaging.Notifier(transport, "p")
    notifier.info({}, "e", {})
    assert transport.sent == [] and not notifier.is_enabled()


def test_the_configured_driver_and_topics_are_used(conf, transport):
    notifications.register_opts(conf)
    conf.set_override("driver", ["messagingv2"], group=notifications.GROUP)
    conf.set_override("topics", ["mine"], group=notifications.GROUP)
    messaging.Notifier(transport, "p").warn({}, "e", {})
    assert [(s[0], s[3]) for s in transport.sent] == [("mine.warn", 2.0)]


def test_a_send_failure_is_logged_not_raised(conf, caplog):
    class Broken(RecordingTransport):
        def _send_notification(self, *args, **kwargs):
            raise messaging.MessageDeliveryFailure("broker gone")

    messaging.Notifier(Broken(conf), "p", driver="messagingv2", topics=["n"]).info({}, "e", {})
    assert "Could not send notification to n" in caplog.text


def test_envelopes_match_what_oslo_messaging_writes():
    message = {
        "message_id": "m",
        "publisher_id": "p",
        "event_type": "e",
        "priority": "INFO",
        "payload": {"a": 1},
        "timestamp": "t",
    }
    v2 = encode_notification(message, {"user_id": "u"}, 2.0)
    inner = wire.decode(v2)
    assert v2.startswith('{"oslo.version": "2.0", "oslo.message": ')
    assert list(inner)[:6] == list(message) and inner["_context_user_id"] == "u"
    assert "_unique_id" in inner
    v1 = wire.decode(encode_notification(message, {}, 1.0))
    assert "oslo.version" not in v1 and v1["payload"] == {"a": 1}


class Incoming:
    def __init__(self, priority, event_type="e", payload=None, publisher_id="p"):
        self.ctxt = {"user_id": "u"}
        self.message = {
            "priority": priority,
            "event_type": event_type,
            "payload": payload,
            "publisher_id": publisher_id,
            "message_id": "m",
            "timestamp": "t",
        }


class Endpoint:
    def __init__(self, result=None):
        self.got = []
        self.result = result

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.got.append((ctxt, publisher_id, event_type, payload, metadata))
        return self.result

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        raise RuntimeError("endpoint bug")


def test_dispatch_by_priority_with_filters_and_results():
    plain, filtered = Endpoint(), Endpoint()
    filtered.filter_rule = messaging.NotificationFilter(event_type=r"^task\.", payload={"k": "^v"})
    dispatcher = NotificationDispatcher([plain, filtered])

    assert sorted(dispatcher.supported_priorities) == ["error", "info"]
    assert dispatcher.dispatch(Incoming("INFO", "task.end", {"k": "v1"})) == "handled"
    assert dispatcher.dispatch(Incoming("INFO", "other", {"k": "v1"})) == "handled"
    assert dispatcher.dispatch(Incoming("ERROR")) == messaging.NotificationResult.REQUEUE
    assert dispatcher.dispatch(Incoming("NOPE")) is None
    assert [g[2] for g in plain.got] == ["task.end", "other"]
    assert [g[2] for g in filtered.got] == ["task.end"]
    assert plain.got[0][4] == {"message_id": "m", "timestamp": "t"}

    requeuer = Endpoint(result=messaging.NotificationResult.REQUEUE)
    assert NotificationDispatcher([requeuer]).dispatch(Incoming("INFO")) == "requeue"


def test_batch_dispatch_requeues_the_batches_an_endpoint_gives_back():
    class BatchEndpoint:
        def __init__(self):
            self.batches = []

        def info(self, messages):
            self.batches.append([m["event_type"] for m in messages])

        def warn(self, messages):
            return messaging.NotificationResult.REQUEUE

    endpoint = BatchEndpoint()
    incoming = [Incoming("INFO", "a"), Incoming("WARN", "b"), Incoming("INFO", "c")]
    requeue = BatchNotificationDispatcher([endpoint]).dispatch(incoming)
    assert endpoint.batches == [["a", "c"]]
    assert requeue == {incoming[1]}


@pytest.mark.parametrize(
    ("kwargs", "matches"),
    [
        ({"publisher_id": "^compute"}, True),
        ({"publisher_id": "^network"}, False),
        ({"context": {"user_id": "^u"}}, True),
        ({"context": {"missing": "."}}, False),
        ({"metadata": {"timestamp": "^t$"}}, True),
        ({"payload": {"n": "1"}}, False),  # not a string: no match, as oslo.messaging
    ],
)
def test_notification_filter(kwargs, matches):
    rule = messaging.NotificationFilter(**kwargs)
    assert rule.match({"user_id": "u"}, "compute.h1", "e", {"timestamp": "t"}, {"n": 1}) is matches
