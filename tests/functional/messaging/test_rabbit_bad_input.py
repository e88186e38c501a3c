"""Bad input never kills a server: raw messages published straight to a server's topic queue.

A bad call gets a clear error reply (read here from a reply queue the test
consumes), a bad cast is logged and dropped, and valid calls keep flowing.
"""

import json
import logging
import uuid

import pytest
from conftest import envelope, new_conf, raw_request, unique
from rpc_endpoints import Recorder

from svcframe.testing import wait_until

pytestmark = pytest.mark.rabbit

VALID_CALLS = 100
FIVE_MB = 5 * 1024 * 1024


@pytest.fixture
def served(rpc, topic, caplog):
    """A server on ``topic`` and a normal client of it."""
    caplog.set_level(logging.WARNING)
    transport = rpc.transport()
    rpc.server(transport, topic, [Recorder()])
    client = rpc.client(transport, topic, timeout=10)
    assert client.call({}, "echo", value="ready") == "ready"
    return client


def assert_still_serving(client):
    for i in range(VALID_CALLS):
        assert client.call({}, "echo", value=i) == i


def warnings_containing(caplog, text):
    return [r for r in caplog.records if r.levelno >= logging.WARNING and text in r.getMessage()]


def wait_for_warning(caplog, text, timeout=5):
    return wait_until(
        lambda: warnings_containing(caplog, text), timeout, message=f"a warning with {text!r}"
    )


# Each case: the fields that make the request bad, the class of the error the
# caller gets back, and a part of its message.
BAD_REQUESTS = {
    "missing method": (
        {"method": None},
        "InvalidRequest",
        "The RPC message has no 'method'",
    ),
    "non-string method": (
        {"method": 42},
        "InvalidRequest",
        "'method' must be a string, not int",
    ),
    "args not an object": (
        {"method": "echo", "args": ["value", 1]},
        "InvalidRequest",
        "must be an object, not list",
    ),
    "private method": (
        {"method": "_private"},
        "NoSuchMethod",
        "Endpoint does not support RPC method _private",
    ),
    "unknown method": (
        {"method": "no_such_method"},
        "NoSuchMethod",
        "Endpoint does not support RPC method no_such_method",
    ),
    "unknown namespace": (
        {"method": "echo", "args": {"value": 1}, "namespace": "nowhere"},
        "UnsupportedVersion",
        "Attempted method: echo",
    ),
    "unknown version": (
        {"method": "echo", "args": {"value": 1}, "version": "7.0"},
        "UnsupportedVersion",
        "does not support RPC version 7.0",
    ),
    "malformed version": (
        {"method": "echo", "args": {"value": 1}, "version": "one"},
        "InvalidRequest",
        "Invalid 'version'",
    ),
    "wrong argument name": (
        {"method": "echo", "args": {"valeu": 1}},
        "TypeError",
        "unexpected argument 'valeu'",
    ),
    "missing argument": (
        {"method": "echo", "args": {}},
        "TypeError",
        "missing a required argument: 'value'",
    ),
}


def bad_request(fields, msg_id=None, reply_q=None):
    inner = raw_request(msg_id=msg_id, reply_q=reply_q)
    inner.update(fields)
    if inner["method"] is None:
        del inner["method"]
    return inner


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_call_gets_an_error_reply(rabbit_admin, topic, served, case):
    fields, error_class, error_text = BAD_REQUESTS[case]
    reply_queue = rabbit_admin.reply_queue()
    msg_id = uuid.uuid4().hex

    rabbit_admin.publish(topic, envelope(bad_request(fields, msg_id, reply_queue.name)))

    reply, failure = reply_queue.get_reply(timeout=5)
    assert reply["_msg_id"] == msg_id
    assert reply["ending"] is True
    assert reply["result"] is None
    assert failure["class"] == error_class
    expected_module = "builtins" if error_class == "TypeError" else "svcframe.messaging.exceptions"
    assert failure["module"] == expected_module
    assert error_text in failure["message"]
    assert_still_serving(served)


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_cast_is_logged_and_dropped(rabbit_admin, topic, served, caplog, case):
    fields, _, error_text = BAD_REQUESTS[case]

    rabbit_admin.publish(topic, envelope(bad_request(fields)))

    wait_for_warning(caplog, error_text)
    assert_still_serving(served)


def test_unknown_envelope_version_call_gets_an_error_reply(rabbit_admin, topic, served):
    reply_queue = rabbit_admin.reply_queue()
    msg_id = uuid.uuid4().hex
    inner = raw_request("echo", {"value": 1}, msg_id, reply_queue.name)

    rabbit_admin.publish(
        topic, json.dumps({"oslo.version": "3.0", "oslo.message": json.dumps(inner)})
    )

    reply, failure = reply_queue.get_reply(timeout=5)
    assert reply["_msg_id"] == msg_id
    assert failure["class"] == "UnsupportedEnvelopeVersion"
    assert "'3.0'" in failure["message"]
    assert_still_serving(served)


# Bodies in which no caller can be found: logged and dropped.
UNREADABLE_BODIES = {
    "not JSON": b"this is not JSON {",
    "not UTF-8": b"\xff\xfe\x00garbage",
    "JSON array": b'["method", "echo"]',
    "JSON string": b'"echo"',
    "inner message not JSON": b'{"oslo.version": "2.0", "oslo.message": "{not json"}',
    "inner message an array": b'{"oslo.version": "2.0", "oslo.message": "[1, 2]"}',
    "unknown envelope version without a caller": (
        b'{"oslo.version": "3.0", "oslo.message": "{\\"method\\": \\"echo\\"}"}'
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE_BODIES))
def test_unreadable_message_is_logged_and_dropped(rabbit_admin, topic, served, caplog, case):
    rabbit_admin.publish(topic, UNREADABLE_BODIES[case])

    wait_for_warning(caplog, "Dropped an unreadable message")
    assert_still_serving(served)


def test_five_megabyte_payload_is_echoed(served):
    payload = "x" * FIVE_MB

    assert served.call({}, "echo", value=payload) == payload
    assert_still_serving(served)


def test_five_megabytes_of_garbage_are_dropped(rabbit_admin, topic, served, caplog):
    rabbit_admin.publish(topic, b"\x00garbage" * (FIVE_MB // 8))

    wait_for_warning(caplog, "Dropped an unreadable message")
    record = warnings_containing(caplog, "Dropped an unreadable message")[0]
    # The log shows where the body starts, not five megabytes of it.
    assert len(record.getMessage()) < 1000
    assert_still_serving(served)


def test_reply_to_a_vanished_queue_is_given_up_while_serving_continues(
    rpc, rabbit_admin, topic, caplog
):
    caplog.set_level(logging.WARNING)
    conf = new_conf(kombu_missing_consumer_retry_timeout=2)
    transport = rpc.transport(conf=conf)
    rpc.server(transport, topic, [Recorder()])
    client = rpc.client(transport, topic, timeout=10)
    gone = unique("reply_gone")

    rabbit_admin.publish(topic, envelope(raw_request("echo", {"value": 1}, "abc", gone)))

    assert_still_serving(client)
    wait_for_warning(caplog, f"queue {gone} has been gone", timeout=5)
    assert_still_serving(client)
