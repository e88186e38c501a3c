"""A delivery's body read back, as sent by another peer: content types and compressions."""

import bz2
import lzma
import zlib

import pytest

from svcframe.messaging import _wire as wire
from svcframe.messaging.drivers.kombu import payload


def _encoded_request():
    message = {"method": "echo", "args": {"value": "é" * 10}, "_unique_id": "u1"}
    return wire.encode(wire.build_request(message, {"user_id": "u"}))


@pytest.mark.parametrize(
    "compression, compress",
    [
        (None, lambda data: data),
        ("gzip", lambda data: zlib.compress(data)),
        ("bzip2", bz2.compress),
        ("xz", lzma.compress),
    ],
)
def test_what_a_peer_encodes_and_compresses_decodes_to_the_same_request(compression, compress):
    body = compress(_encoded_request().encode("utf-8"))
    headers = {"compression": compression} if compression else {}
    request = wire.parse_request(wire.decode(payload.read_body(body, headers, "application/json")))
    assert request.message["method"] == "echo"
    assert request.message["args"] == {"value": "é" * 10}
    assert request.ctxt["user_id"] == "u"


def test_the_compression_name_is_read_case_blind():
    body = zlib.compress(b"{}")
    assert payload.read_body(body, {"compression": "Application/X-Gzip"}) == b"{}"


def test_a_content_type_with_parameters_is_json_still():
    assert payload.read_body(b"{}", None, "application/json; charset=utf-8") == b"{}"


@pytest.mark.parametrize("content_type", [b"application/json", 42])
def test_a_content_type_that_is_no_string_is_refused(content_type):
    with pytest.raises(payload.BadPayload, match="not a string"):
        payload.read_body(b"{}", None, content_type)


def test_a_compression_header_that_is_no_string_is_refused():
    with pytest.raises(payload.BadPayload, match="not a string"):
        payload.read_body(b"{}", {"compression": 1})


def test_a_compressed_body_a_transport_handed_over_as_text_is_read():
    # kombu's virtual transports may give back a str body.
    body = zlib.compress(b'{"a": 1}').decode("latin-1")
    assert payload.read_body(body, {"compression": "zlib"}) == b'{"a": 1}'


def test_headers_that_are_not_a_dict_mean_no_compression():
    assert payload.read_body(b"{}", ["compression", "zlib"]) == b"{}"
