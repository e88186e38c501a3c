"""Pieces of the delivery path that need no broker: bodies, reply addresses, failures, credits."""

import bz2
import json
import lzma
import zlib

import pytest

from svcframe.messaging import _wire as wire
from svcframe.messaging import exceptions
from svcframe.messaging.drivers import base
from svcframe.messaging.drivers.kombu import payload as kombu_payload
from svcframe.messaging.drivers.kombu.listener import _consumer_shares


def test_a_plain_json_body_is_returned_as_it_is():
    assert kombu_payload.read_body(b"{}", {}, "application/json") == b"{}"
    assert kombu_payload.read_body("{}", None, None) == "{}"


@pytest.mark.parametrize(
    "name, compress",
    [
        ("application/x-gzip", zlib.compress),
        ("zlib", zlib.compress),
        ("application/x-bz2", bz2.compress),
        ("application/x-lzma", lzma.compress),
    ],
)
def test_compressed_bodies_kombu_can_write_are_read(name, compress):
    assert kombu_payload.read_body(compress(b'{"a": 1}'), {"compression": name}) == b'{"a": 1}'


@pytest.mark.parametrize(
    "headers, content_type, reason",
    [
        ({"compression": "application/x-garbage"}, None, "unsupported compression"),
        ({"compression": 7}, None, "not a string"),
        ({"compression": "application/x-gzip"}, None, "cannot be decompressed"),
        ({}, "application/x-python-serialize", "unsupported content type"),
        ({}, 5, "not a string"),
    ],
)
def test_bodies_that_are_not_json_are_refused(headers, content_type, reason):
    with pytest.raises(kombu_payload.BadPayload, match=reason):
        kombu_payload.read_body(b"not compressed", headers, content_type)


def test_decompression_stops_at_the_limit():
    bomb = zlib.compress(b"\0" * (4 << 20))
    assert len(bomb) < 10_000
    with pytest.raises(kombu_payload.BadPayload, match="larger than"):
        kombu_payload.read_body(bomb, {"compression": "zlib"}, limit=1 << 20)
    with pytest.raises(kombu_payload.BadPayload, match="larger than"):
        kombu_payload.read_body(b"x" * 101, {}, limit=100)


@pytest.mark.parametrize(
    "name, valid",
    [
        ("reply_0123abcd", True),
        ("r" * 255, True),
        ("r" * 256, False),
        ("é" * 128, False),  # 256 bytes
        ("reply/x", False),
        ("reply\nx", False),
        ("", False),
        (5, False),
        (None, False),
        (["reply_x"], False),
    ],
)
def test_reply_queue_names_from_the_wire_are_checked(name, valid):
    assert wire.valid_queue_name(name) is valid


def test_a_request_with_an_unusable_reply_address_is_refused():
    inner = {"method": "echo", "args": {}, "_msg_id": "m", "_reply_q": "a/b"}
    with pytest.raises(wire.InvalidReplyAddress):
        wire.parse_request(inner)
    # A cast has neither.
    assert wire.parse_request({"method": "echo", "args": {}}).msg_id is None


def test_the_reply_address_of_a_request_too_deep_to_parse_is_found_by_scanning():
    depth = 50_000
    inner = (
        '{"method": "echo", "args": {"v": "\\"_reply_q\\": \\"fake\\"", "w": '
        + "[" * depth
        + "]" * depth
        + '}, "_msg_id": "abc", "_reply_q": "reply_1", "_timeout": null}'
    )
    body = json.dumps({"oslo.version": "2.0", "oslo.message": inner})
    with pytest.raises(RecursionError):
        wire.decode(body)
    assert wire.scan_reply_address(body) == ("abc", "reply_1")
    assert wire.scan_reply_address(inner) == ("abc", "reply_1")
    assert wire.scan_reply_address('{"_msg_id": "abc", "_reply_q": "a/b"}') == (None, None)


@pytest.mark.parametrize(
    "failure",
    [
        {"class": 1, "module": "builtins", "message": "m"},
        {"class": "ValueError", "module": ["builtins"], "message": "m"},
        {"class": "ValueError", "module": "builtins", "message": {"m": 1}},
        {"class": "ValueError", "module": "builtins", "message": "m", "tb": "x"},
        {"class": "ValueError", "module": "builtins", "message": "m", "tb": [1]},
        {"class": "ValueError", "module": "builtins", "message": "m", "args": 1},
        {"class": "ValueError", "module": "builtins", "message": "m", "kwargs": [1]},
        {"class": "ValueError", "module": "builtins", "message": "m", "kwargs": {"x": 1}},
        [1],
        "text",
    ],
)
def test_a_malformed_failure_is_a_remote_error(failure):
    exc = wire.deserialize_failure(json.dumps(failure), [])
    assert isinstance(exc, exceptions.RemoteError)


def test_a_well_formed_builtin_failure_is_raised_as_itself():
    failure = {"class": "ValueError", "module": "builtins", "message": "m", "tb": ["t"]}
    failure.update(args=["m"], kwargs={})
    exc = wire.deserialize_failure(json.dumps(failure), [])
    assert isinstance(exc, ValueError) and not isinstance(exc, exceptions.RemoteError)


def test_the_duplicate_filter_is_bounded_and_can_forget():
    seen = base.DuplicateFilter(size=3)
    for uid in "abcd":
        assert not seen.is_duplicate(uid)
    assert not seen.seen("a")  # pushed out
    assert seen.is_duplicate("d")
    seen.forget("d")
    assert not seen.is_duplicate("d")
    assert not seen.is_duplicate(["not", "hashable"])


@pytest.mark.parametrize("prefetch", [3, 4, 10, 64, 128, 1000])
def test_the_prefetch_is_shared_by_the_three_consumers(prefetch):
    topic, server, fanout = _consumer_shares(prefetch)
    assert topic + server + fanout == prefetch
    assert min(topic, server, fanout) >= 1 and topic >= server


def test_a_tiny_prefetch_still_gives_each_consumer_a_credit():
    assert _consumer_shares(1) == (1, 1, 1)
    assert _consumer_shares(2) == (2, 1, 1)
