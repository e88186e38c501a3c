"""Hostile deliveries on RabbitMQ: none wedges a consumer, spins a server or goes unanswered."""

import json
import logging
import resource
import threading
import time
import uuid
import zlib

import kombu
import pytest
from conftest import (
    CONTROL_EXCHANGE,
    RabbitAdmin,
    envelope,
    new_conf,
    raw_request,
)
from rpc_endpoints import Recorder as Echo

from svcframe import messaging
from svcframe.messaging.drivers.kombu import listener as kombu_listener
from svcframe.messaging.drivers.kombu import payload as kombu_payload
from svcframe.messaging.drivers.kombu import returns as kombu_returns
from svcframe.testing import wait_until

pytestmark = [pytest.mark.rabbit]

LISTENER_LOG = "svcframe.messaging.drivers.kombu.listener"


@pytest.fixture(autouse=True)
def _every_drop_logged(monkeypatch):
    # These tests count the messages dropped by their log lines: one line
    # each, not one per kind of fault and minute as in production.
    monkeypatch.setattr(kombu_listener._DROPPED, "interval", 0)


def served_with_prefetch(rpc, topic, prefetch):
    conf = new_conf(rabbit_qos_prefetch_count=prefetch)
    transport = rpc.transport(conf=conf)
    server = rpc.server(transport, topic, [Echo()])
    return transport, server


def zlib_bomb():
    """Far more than the decompression limit once inflated, a few hundred KB as sent."""
    compressor = zlib.compressobj(9)
    chunk = b"\0" * (1 << 20)
    parts = [
        compressor.compress(chunk) for _ in range(kombu_payload.MAX_BODY_BYTES // len(chunk) + 8)
    ]
    return b"".join(parts) + compressor.flush()


def test_garbage_compression_and_zlib_bombs_do_not_wedge_the_consumer(
    rpc, topic, rabbit_admin, caplog
):
    transport, server = served_with_prefetch(rpc, topic, 10)
    body = envelope(raw_request("echo", {"value": 1})).encode()
    bomb = zlib_bomb()
    with caplog.at_level(logging.WARNING, logger=LISTENER_LOG):
        for _ in range(10):
            rabbit_admin.publish(topic, body, headers={"compression": "application/x-garbage"})
        for _ in range(2):
            rabbit_admin.publish(topic, bomb, headers={"compression": "application/x-gzip"})
        rabbit_admin.publish(topic, body, headers={"compression": ["not", "a", "string"]})
        rabbit_admin.publish(topic, body, content_type="application/x-python-serialize")
        client = rpc.client(rpc.transport(), topic, timeout=10)
        # 20 calls after them: with prefetch 10, one unsettled delivery too many would stop them.
        for n in range(20):
            assert client.call({}, "echo", value=n) == n
    wait_until(lambda: rabbit_admin.queue_info(topic)[0] == 0, 10, message="queue drained")
    dropped = [r for r in caplog.records if "Dropped an unreadable message" in r.getMessage()]
    assert len(dropped) == 14
    assert sum("larger than" in r.getMessage() for r in dropped) == 2
    assert server.stats()["received"] == 20


def test_a_compressed_request_is_read(rpc, topic, rabbit_admin):
    served_with_prefetch(rpc, topic, 10)
    reply_queue = rabbit_admin.reply_queue()
    msg_id = uuid.uuid4().hex
    body = envelope(raw_request("echo", {"value": "zipped"}, msg_id, reply_queue.name))
    rabbit_admin.publish(
        topic, zlib.compress(body.encode()), headers={"compression": "application/x-gzip"}
    )
    reply, failure = reply_queue.get_reply(timeout=10)
    assert failure is None and reply["result"] == "zipped"


def test_a_call_nested_100000_deep_gets_an_error_reply(rpc, topic, rabbit_admin, caplog):
    served_with_prefetch(rpc, topic, 10)
    reply_queue = rabbit_admin.reply_queue()
    msg_id = uuid.uuid4().hex
    depth = 100_000
    inner = (
        '{"method": "echo", "args": {"value": '
        + "[" * depth
        + "]" * depth
        + f'}}, "_msg_id": "{msg_id}", "_reply_q": "{reply_queue.name}", '
        f'"_timeout": null, "_unique_id": "{uuid.uuid4().hex}"}}'
    )
    with caplog.at_level(logging.WARNING, logger=LISTENER_LOG):
        rabbit_admin.publish(topic, json.dumps({"oslo.version": "2.0", "oslo.message": inner}))
        reply, failure = reply_queue.get_reply(timeout=10)
    assert reply["_msg_id"] == msg_id
    assert failure["class"] == "InvalidRequest" and "RecursionError" in failure["message"]
    assert "Traceback" not in caplog.text
    client = rpc.client(rpc.transport(), topic, timeout=10)
    assert client.call({}, "echo", value="still serving") == "still serving"


def test_a_non_string_version_gets_an_error_reply(rpc, topic, rabbit_admin):
    served_with_prefetch(rpc, topic, 10)
    reply_queue = rabbit_admin.reply_queue()
    msg_id = uuid.uuid4().hex
    inner = raw_request("echo", {"value": 1}, msg_id, reply_queue.name, version=[1])
    rabbit_admin.publish(topic, envelope(inner))
    _, failure = reply_queue.get_reply(timeout=10)
    assert failure["class"] == "InvalidRequest"


@pytest.mark.parametrize(
    "reply_q",
    ["reply/../../etc", "r" * 300, "é" * 200, 12345, ["reply_x"], "", "reply\nx"],
    ids=["slash", "300-chars", "300-bytes", "int", "list", "empty", "newline"],
)
def test_an_unusable_reply_queue_is_refused_without_spinning(
    rpc, topic, rabbit_admin, caplog, reply_q
):
    transport, server = served_with_prefetch(rpc, topic, 10)
    before = resource.getrusage(resource.RUSAGE_SELF)
    with caplog.at_level(logging.DEBUG, logger="svcframe"):
        for _ in range(20):
            inner = raw_request("echo", {"value": 1}, uuid.uuid4().hex, reply_q)
            rabbit_admin.publish(topic, envelope(inner))
        client = rpc.client(rpc.transport(), topic, timeout=10)
        assert client.call({}, "echo", value="after") == "after"
    after = resource.getrusage(resource.RUSAGE_SELF)
    refused = [r for r in caplog.records if "unusable reply address" in r.getMessage()]
    assert len(refused) == 20
    assert all(len(r.getMessage()) < 700 for r in refused)
    assert len(caplog.records) < 80
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert cpu < 5, f"{cpu:.1f} s of CPU for 20 refused requests"
    # Refused requests are not run: only the valid call was.
    assert server.stats()["received"] == 1


def test_replies_to_a_missing_queue_are_retried_a_bounded_number_of_times(
    rpc, topic, rabbit_admin, caplog
):
    conf = new_conf(kombu_missing_consumer_retry_timeout=3)
    transport = rpc.transport(conf=conf)
    rpc.server(transport, topic, [Echo()])
    publisher = transport._driver._get_publisher()
    sent = []
    real_send = publisher._send_locked

    def counting_send(outgoing):
        if outgoing.kind == "reply":
            sent.append(outgoing.routing_key)
        return real_send(outgoing)

    publisher._send_locked = counting_send
    missing = [f"reply_{uuid.uuid4().hex}" for _ in range(5)]
    with caplog.at_level(logging.WARNING, logger="svcframe.messaging.drivers.kombu.returns"):
        for name in missing:
            for _ in range(4):
                inner = raw_request("echo", {"value": 1}, uuid.uuid4().hex, name)
                rabbit_admin.publish(topic, envelope(inner))
        wait_until(
            lambda: all(publisher.returns.reply_queue_obsolete(name) for name in missing),
            20,
            message="every missing reply queue given up",
        )
        time.sleep(1)
    per_queue = {name: sent.count(name) for name in missing}
    print(f"replies sent per missing queue: {per_queue}")
    assert all(count <= 4 + kombu_returns.REPLY_RETRIES_PER_QUEUE for count in per_queue.values())
    # Later replies to a queue known to be gone are not even sent.
    inner = raw_request("echo", {"value": 1}, uuid.uuid4().hex, missing[0])
    before = sent.count(missing[0])
    rabbit_admin.publish(topic, envelope(inner))
    client = rpc.client(rpc.transport(), topic, timeout=10)
    assert client.call({}, "echo", value=2) == 2
    assert sent.count(missing[0]) == before


def test_the_obsolete_reply_queue_cache_keeps_the_latest_200(rpc):
    publisher = rpc.transport()._driver._get_publisher()
    now = time.monotonic()
    for n in range(1000):
        publisher.returns.mark_reply_queue_obsolete(f"reply_{n}", now)
    assert len(publisher.returns._obsolete_reply_queues) == kombu_returns.OBSOLETE_REPLY_QUEUES
    assert publisher.returns.reply_queue_obsolete("reply_999")
    assert not publisher.returns.reply_queue_obsolete("reply_0")


def test_a_message_the_broker_cannot_take_fails_once_without_a_reconnect_loop(rpc, topic, caplog):
    transport = rpc.transport()
    driver = transport._driver
    driver.send_reply("warm-up", "{}", "m0")  # connects
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="svcframe"):
        # 300 bytes: no AMQP routing key can carry it; the driver must not
        # take that for a lost connection and retry forever.
        driver.send_reply("r" * 300, "{}", "m1")
    elapsed = time.monotonic() - started
    assert elapsed < 15
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert 1 <= len(lines) <= 6, [r.getMessage() for r in lines]
    # The publisher still works.
    client = rpc.client(transport, topic, timeout=10)
    rpc.server(rpc.transport(), topic, [Echo()])
    assert client.call({}, "echo", value=3) == 3


def _serve_one_raw_call(topic, failure):
    """Answer the next call on ``topic`` with ``failure`` as a server would write it."""
    admin = RabbitAdmin()  # its own connection: a connection serves one thread
    exchange = kombu.Exchange(CONTROL_EXCHANGE, type="topic", durable=False)
    kombu.Queue(topic, exchange, routing_key=topic, auto_delete=True)(admin.channel).declare()

    def answer():
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                message = admin.channel.basic_get(topic, no_ack=True)
                if message is not None:
                    request = json.loads(json.loads(message.body)["oslo.message"])
                    reply = {
                        "result": None,
                        "failure": failure,
                        "ending": True,
                        "_msg_id": request["_msg_id"],
                        "_unique_id": uuid.uuid4().hex,
                    }
                    admin.publish(request["_reply_q"], envelope(reply), exchange="")
                    return
                time.sleep(0.01)
        finally:
            admin.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    "failure",
    [
        {"class": 1, "module": "builtins", "message": "m", "tb": [], "args": [], "kwargs": {}},
        {
            "class": "ValueError",
            "module": ["x"],
            "message": "m",
            "tb": [],
            "args": [],
            "kwargs": {},
        },
        {"class": "ValueError", "module": "builtins", "message": {}, "tb": [], "args": []},
        {"class": "ValueError", "module": "builtins", "message": "m", "tb": "not a list"},
        {"class": "ValueError", "module": "builtins", "message": "m", "tb": [1, 2]},
        {"class": "ValueError", "module": "builtins", "message": "m", "args": 5},
        {"class": "ValueError", "module": "builtins", "message": "m", "kwargs": [1]},
        {"class": "ValueError", "module": "builtins", "message": "m", "kwargs": {"bad": 1}},
        [1, 2, 3],
    ],
)
def test_a_malformed_failure_reply_raises_remote_error(rpc, topic, failure):
    rpc.forget_queues(topic)
    client = rpc.client(rpc.transport(), topic, timeout=10)
    thread = _serve_one_raw_call(topic, json.dumps(failure))
    with pytest.raises(messaging.RemoteError):
        client.call({}, "echo", value=1)
    thread.join(10)


def test_hostile_replies_do_not_stop_a_client(rpc, topic, rabbit_admin, caplog):
    transport, _ = served_with_prefetch(rpc, topic, 10)
    client = rpc.client(rpc.transport(), topic, timeout=10)
    assert client.call({}, "echo", value=0) == 0
    reply_q = client.transport._driver._reply_waiter.queue_name
    with caplog.at_level(logging.WARNING, logger="svcframe.messaging.drivers.kombu.reply"):
        rabbit_admin.publish(reply_q, b"{}", exchange="", headers={"compression": "x/garbage"})
        rabbit_admin.publish(reply_q, zlib_bomb(), exchange="", headers={"compression": "zlib"})
        rabbit_admin.publish(reply_q, "[" * 100_000, exchange="")
        for n in range(1, 4):
            assert client.call({}, "echo", value=n) == n
    dropped = [r for r in caplog.records if "Dropped an unreadable reply" in r.getMessage()]
    assert len(dropped) == 3
    assert "Traceback" not in caplog.text
