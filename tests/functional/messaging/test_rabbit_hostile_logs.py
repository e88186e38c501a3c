"""Hostile traffic leaves a short log: one WARNING line per kind of rejection, no traceback.

Each message is published raw to a server's topic queue.  What the server
logs about it must be one line, at WARNING, with the reason; values taken
from the message are cut short, and the traceback (if any) is at DEBUG.
"""

import json
import logging
import uuid

import pytest
from conftest import envelope, raw_request
from rpc_endpoints import Recorder

from svcframe.testing import wait_until

pytestmark = pytest.mark.rabbit

MAX_LINE = 1000
ONE_MB = 1024 * 1024


@pytest.fixture
def served(rpc, topic, caplog):
    caplog.set_level(logging.DEBUG, logger="svcframe")
    transport = rpc.transport()
    rpc.server(transport, topic, [Recorder()])
    client = rpc.client(transport, topic, timeout=10)
    assert client.call({}, "echo", value="ready") == "ready"
    return client


def nested(depth):
    return "[" * depth + "]" * depth


def hostile_messages(reply_q):
    """(name, body, headers) of each kind of hostile message."""
    call = {"_msg_id": uuid.uuid4().hex, "_reply_q": reply_q, "_timeout": None}
    return {
        "1 MB method name": (envelope(raw_request("m" * ONE_MB)), {}),
        "5 MB method name, a call": (envelope(raw_request("m" * 5 * ONE_MB, **call)), {}),
        "JSON nested 10,000 deep": (
            json.dumps({"oslo.version": "2.0", "oslo.message": nested(10_000)}),
            {},
        ),
        "JSON nested 10,000 deep, outer": (nested(10_000), {}),
        "args nested 10,000 deep": (
            '{"oslo.version": "2.0", "oslo.message": '
            + json.dumps('{"method": "echo", "args": {"value": ' + nested(10_000) + "}}")
            + "}",
            {},
        ),
        "bad compression header": (
            envelope(raw_request("echo", {"value": 1})),
            {"compression": "application/x-nonsense"},
        ),
        "version=[1]": (envelope(raw_request("echo", {"value": 1}, version=[1])), {}),
        "version=[1], a call": (
            envelope(raw_request("echo", {"value": 1}, version=[1], **call)),
            {},
        ),
        "namespace=[1]": (envelope(raw_request("echo", {"value": 1}, namespace=[1])), {}),
        "oslo.version=[1]": (json.dumps({"oslo.version": [1], "oslo.message": "{}"}), {}),
        "long envelope version": (
            json.dumps({"oslo.version": "9" * ONE_MB, "oslo.message": "{}"}),
            {},
        ),
    }


@pytest.mark.parametrize("case", list(hostile_messages("r")))
def test_hostile_message_is_one_warning_line_without_traceback(
    rabbit_admin, topic, served, caplog, case
):
    reply_queue = rabbit_admin.reply_queue()
    body, headers = hostile_messages(reply_queue.name)[case]
    caplog.clear()

    rabbit_admin.publish(topic, body, headers=headers)

    # The server goes on serving, and what it said about the message is in.
    assert served.call({}, "echo", value="after") == "after"
    warnings = wait_until(
        lambda: [r for r in caplog.records if r.levelno >= logging.WARNING], 5, message="a warning"
    )
    assert len(warnings) == 1, [r.getMessage()[:200] for r in warnings]
    (record,) = warnings
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "\n" not in text
    assert len(text) < MAX_LINE, text[:300]
    assert record.exc_info is None
    assert record.stack_info is None


FLOOD = 500


def test_a_flood_of_bad_messages_is_one_line_per_kind(rabbit_admin, topic, served, caplog):
    caplog.clear()
    for i in range(FLOOD):
        rabbit_admin.publish(topic, envelope(raw_request(f"no_such_method_{i}")))
        rabbit_admin.publish(topic, b"not JSON %d" % i)

    # Requests are served in order here: once this reply is in, so are the rest.
    for _ in range(3):
        assert served.call({}, "echo", value="after") == "after"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings
    assert any("Endpoint does not support RPC method no_such_method_" in w for w in warnings)
    assert any("Dropped an unreadable message" in w for w in warnings)
