"""Byte-level comparison of what oslo.messaging and svcframe put on the wire.

Requests: each library's client sends a cast, a fanout cast, a call and a
server-directed call with a call-monitor timeout to a queue this test
binds itself; the test reads the raw AMQP messages (and answers the calls
by hand).  Replies: the test sends hand-made requests to a server of each
library and reads the raw replies from its own reply queue.  Properties,
headers, key order and the JSON text itself (uuids aside) must be equal.
"""

import json
import re
import threading
import time
import uuid

import kombu
import pytest
from interop_harness import AMQP_URL, Janitor, PeerGroup, unique, write_config

from svcframe.testing import wait_until

pytestmark = [pytest.mark.rabbit, pytest.mark.slow]

IMPLS = ("oslo", "svcframe")
UUID_RE = re.compile(r"[0-9a-f]{32}")
PROPERTY_KEYS = (
    "content_type",
    "content_encoding",
    "delivery_mode",
    "priority",
    "expiration",
    "application_headers",
    "reply_to",
    "correlation_id",
    "message_id",
)


def _raw(message):
    """What can be compared of a received AMQP message."""
    props = message.properties
    body = message.body
    return {
        "properties": {key: props.get(key) for key in PROPERTY_KEYS},
        "other_properties": sorted(set(props) - set(PROPERTY_KEYS)),
        "exchange": message.delivery_info.get("exchange"),
        "routing_key": message.delivery_info.get("routing_key"),
        "body": body if isinstance(body, str) else bytes(body).decode("utf-8"),
    }


def _normalize(text):
    return UUID_RE.sub("<uuid>", text)


def _inner_text(body):
    """The inner JSON text, and the body with that text replaced by a marker."""
    outer = json.loads(body)
    inner = outer["oslo.message"]
    return inner, body.replace(json.dumps(inner), '"<inner>"')


def _reply_body(inner_request, result):
    reply = {
        "result": result,
        "failure": None,
        "ending": True,
        "_msg_id": inner_request["_msg_id"],
        "_unique_id": uuid.uuid4().hex,
    }
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(reply)})


class Capture:
    """A queue of our own bound where a topic's requests go; answers calls like a server."""

    def __init__(self, exchange, topic, server):
        self.conn = kombu.Connection(AMQP_URL)
        self.topic_exchange = kombu.Exchange(exchange, "topic", durable=False)
        self.fanout_exchange = kombu.Exchange(
            f"{topic}_fanout", "fanout", durable=False, auto_delete=True
        )
        self.queue = kombu.Queue(
            unique("capture"),
            bindings=[
                kombu.binding(self.topic_exchange, routing_key=topic),
                kombu.binding(self.topic_exchange, routing_key=f"{topic}.{server}"),
                kombu.binding(self.fanout_exchange, routing_key=topic),
            ],
            exclusive=True,
        )
        self.messages = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def _run(self):
        with self.conn:
            channel = self.conn.channel()
            producer = kombu.Producer(channel)
            for exchange in (self.topic_exchange, self.fanout_exchange):
                exchange(channel).declare()

            def on_message(message):
                message.ack()
                raw = _raw(message)
                self.messages.append(raw)
                inner = json.loads(json.loads(raw["body"])["oslo.message"])
                if "_reply_q" in inner:
                    args = inner["args"]
                    result = args["value"] if "value" in args else args["a"] + args["b"]
                    producer.publish(
                        _reply_body(inner, result),
                        exchange="",
                        routing_key=inner["_reply_q"],
                        content_type="application/json",
                        content_encoding="utf-8",
                    )

            with kombu.Consumer(channel, [self.queue], on_message=on_message):
                self._ready.set()
                while not self._stop.is_set():
                    try:
                        self.conn.drain_events(timeout=0.1)
                    except TimeoutError:
                        pass

    def stop(self):
        self._stop.set()
        self._thread.join(10)


@pytest.fixture(scope="module")
def captured_requests(rabbit, tmp_path_factory):
    """{impl: [cast, fanout cast, call, directed call]} as received raw from each client."""
    log_dir = tmp_path_factory.mktemp("wire-requests")
    captured = {}
    for impl in IMPLS:
        exchange, topic = unique("wire"), unique("wire-topic")
        config = write_config(log_dir, exchange)
        capture = Capture(exchange, topic, "srv1").start()
        group = PeerGroup(log_dir)
        try:
            peer = group.start(
                "capture", impl, config, topic, name=f"capture-{impl}", server="srv1"
            )
            assert peer.result() == [{"k": [1, "two"]}, 3]
            wait_until(
                lambda capture=capture: len(capture.messages) >= 4,
                5,
                interval=0.05,
                message=lambda capture=capture: f"4 captured requests: {capture.messages}",
            )
        finally:
            group.stop_all()
            capture.stop()
            janitor = Janitor(rabbit)
            janitor.exchanges.append(exchange)
            janitor.cleanup()
        by_method = sorted(capture.messages, key=lambda m: m["routing_key"])
        assert len(by_method) == 4, capture.messages
        captured[impl] = {"exchange": exchange, "topic": topic, "messages": capture.messages}
    return captured


def _requests_by_kind(entry):
    topic = entry["topic"]
    kinds = {}
    for raw in entry["messages"]:
        inner = json.loads(json.loads(raw["body"])["oslo.message"])
        if raw["routing_key"] == f"{topic}.srv1":
            kind = "directed_call"
        elif raw["exchange"] == f"{topic}_fanout":
            kind = "fanout"
        elif "_msg_id" in inner:
            kind = "call"
        else:
            kind = "cast"
        kinds[kind] = raw
    assert sorted(kinds) == ["call", "cast", "directed_call", "fanout"]
    return kinds


@pytest.mark.parametrize("kind", ["cast", "fanout", "call", "directed_call"])
def test_request_properties_are_identical(captured_requests, kind):
    oslo = _requests_by_kind(captured_requests["oslo"])[kind]
    svcframe = _requests_by_kind(captured_requests["svcframe"])[kind]
    assert svcframe["properties"] == oslo["properties"]
    assert svcframe["other_properties"] == oslo["other_properties"]
    props = oslo["properties"]
    assert props["content_type"] == "application/json"
    assert props["content_encoding"] == "utf-8"
    assert props["delivery_mode"] == 2
    expected = {"call": "10000", "directed_call": "12000"}.get(kind)
    assert props["expiration"] == expected


@pytest.mark.parametrize("kind", ["cast", "fanout", "call", "directed_call"])
def test_request_body_is_identical_but_for_ids(captured_requests, kind):
    bodies = {}
    for impl in IMPLS:
        entry = captured_requests[impl]
        raw = _requests_by_kind(entry)[kind]
        body = raw["body"].replace(entry["topic"], "<topic>")
        inner, envelope = _inner_text(body)
        bodies[impl] = {
            "envelope": envelope,
            "keys": list(json.loads(inner)),
            "inner": _normalize(inner),
        }
    assert bodies["svcframe"]["envelope"] == bodies["oslo"]["envelope"]
    assert bodies["oslo"]["envelope"] == '{"oslo.version": "2.0", "oslo.message": "<inner>"}'
    assert bodies["svcframe"]["keys"] == bodies["oslo"]["keys"]
    assert bodies["svcframe"]["inner"] == bodies["oslo"]["inner"]


def test_call_requests_carry_the_reply_address_and_monitor_timeout(captured_requests):
    for impl in IMPLS:
        kinds = _requests_by_kind(captured_requests[impl])
        call = json.loads(json.loads(kinds["call"]["body"])["oslo.message"])
        directed = json.loads(json.loads(kinds["directed_call"]["body"])["oslo.message"])
        cast = json.loads(json.loads(kinds["cast"]["body"])["oslo.message"])
        assert call["_timeout"] is None, impl
        assert directed["_timeout"] == 8, impl
        assert re.fullmatch(r"reply_[0-9a-f]{32}", call["_reply_q"]), impl
        assert not {"_msg_id", "_reply_q", "_timeout"} & set(cast), impl
        assert cast["namespace"] == "interop" and cast["version"] == "1.1", impl
        assert cast["_context_request_id"] == "req-capture", impl


# -- replies --------------------------------------------------------------------


@pytest.fixture(scope="module")
def captured_replies(rabbit, tmp_path_factory):
    """{impl: {kind: [raw replies]}} from hand-made requests to a server of each library."""
    log_dir = tmp_path_factory.mktemp("wire-replies")
    exchange = unique("wire")
    config = write_config(log_dir, exchange)
    topics = {impl: f"{exchange}-{impl}" for impl in IMPLS}
    group = PeerGroup(log_dir)
    reply_q = f"reply_{uuid.uuid4().hex}"
    conn = kombu.Connection(AMQP_URL)
    replies = {impl: {} for impl in IMPLS}
    try:
        for server in [group.server(impl, config, topics[impl]) for impl in IMPLS]:
            server.wait_ready()
        channel = conn.channel()
        queue = kombu.Queue(reply_q, routing_key="", durable=False, exclusive=True)
        received = []

        def on_message(message):
            message.ack()
            received.append(_raw(message))

        requests = {
            "result": ("echo", {"value": {"k": [1, "two"]}}, None),
            "failure": ("raise_custom", {"message": "bad", "code": 7}, None),
            "heartbeat": ("slow", {"seconds": 1.5}, 2),
        }
        sent = {}
        with kombu.Consumer(channel, [queue], on_message=on_message):
            producer = kombu.Producer(channel)
            for impl in IMPLS:
                for kind, (method, args, monitor) in requests.items():
                    msg_id = uuid.uuid4().hex
                    sent[msg_id] = (impl, kind)
                    inner = {
                        "method": method,
                        "args": args,
                        "_msg_id": msg_id,
                        "_reply_q": reply_q,
                        "_timeout": monitor,
                        "_unique_id": uuid.uuid4().hex,
                        "_context_user_id": "user-1",
                    }
                    producer.publish(
                        json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)}),
                        exchange=exchange,
                        routing_key=f"{topics[impl]}.srv1",
                        content_type="application/json",
                        content_encoding="utf-8",
                    )
            deadline = time.monotonic() + 15
            finals = 0
            while finals < len(sent) and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=0.2)
                except TimeoutError:
                    continue
                finals = sum(
                    json.loads(json.loads(r["body"])["oslo.message"])["ending"] for r in received
                )
        for raw in received:
            inner = json.loads(json.loads(raw["body"])["oslo.message"])
            impl, kind = sent[inner["_msg_id"]]
            if kind == "heartbeat" and inner["ending"]:
                kind = "after_heartbeat"
            replies[impl].setdefault(kind, []).append(raw)
    finally:
        group.stop_all()
        conn.release()
        janitor = Janitor(rabbit)
        for topic in topics.values():
            janitor.add_server_entities(exchange, topic, "srv1")
        janitor.cleanup()
    return replies


@pytest.mark.parametrize("kind", ["result", "failure", "heartbeat", "after_heartbeat"])
def test_reply_properties_are_identical(captured_replies, kind):
    oslo = captured_replies["oslo"][kind][0]
    svcframe = captured_replies["svcframe"][kind][0]
    assert svcframe["properties"] == oslo["properties"]
    assert svcframe["other_properties"] == oslo["other_properties"]
    assert oslo["exchange"] == svcframe["exchange"] == ""
    assert oslo["properties"]["expiration"] is None
    assert oslo["properties"]["content_type"] == "application/json"


@pytest.mark.parametrize("kind", ["result", "heartbeat", "after_heartbeat"])
def test_reply_body_is_identical_but_for_ids(captured_replies, kind):
    bodies = {}
    for impl in IMPLS:
        inner, envelope = _inner_text(captured_replies[impl][kind][0]["body"])
        bodies[impl] = (envelope, list(json.loads(inner)), _normalize(inner))
    assert bodies["svcframe"] == bodies["oslo"]
    assert bodies["oslo"][1] == ["result", "failure", "ending", "_msg_id", "_unique_id"]


def test_heartbeats_before_the_result(captured_replies):
    for impl in IMPLS:
        beats = captured_replies[impl]["heartbeat"]
        assert beats, impl
        for raw in beats:
            inner = json.loads(json.loads(raw["body"])["oslo.message"])
            assert inner["result"] is None and inner["failure"] is None, impl
            assert inner["ending"] is False, impl
        final = json.loads(
            json.loads(captured_replies[impl]["after_heartbeat"][0]["body"])["oslo.message"]
        )
        assert final["result"] == 1.5, impl


def test_failure_reply_has_the_same_structure(captured_replies):
    failures = {}
    for impl in IMPLS:
        inner_text, envelope = _inner_text(captured_replies[impl]["failure"][0]["body"])
        inner = json.loads(inner_text)
        assert list(inner) == ["result", "failure", "ending", "_msg_id", "_unique_id"]
        assert inner["result"] is None and inner["ending"] is True
        failure = json.loads(inner["failure"])
        tb = failure.pop("tb")
        assert isinstance(tb, list) and tb[0].startswith("Traceback"), impl
        failures[impl] = (envelope, list(failure), failure)
    assert failures["svcframe"] == failures["oslo"]
    assert failures["oslo"][1] == ["class", "module", "message", "args", "kwargs"]
    assert failures["oslo"][2] == {
        "class": "InteropError",
        "module": "interop_exc",
        "message": "bad",
        "args": ["bad"],
        "kwargs": {"code": 7},
    }
