"""The wire format, byte for byte against oslo.messaging's own functions."""

import datetime
import json
import sys

import oslo_messaging
import pytest
from kombu.utils import json as kombu_json
from oslo_messaging._drivers import common as oslo_common

from svcframe.messaging import _wire as wire
from svcframe.messaging import exceptions

THIS_MODULE = __name__


class AppError(Exception):
    """An application exception with keyword arguments, as nova's are."""

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        super().__init__(message or f"app error {kwargs}")


def exc_info_of(exc):
    try:
        raise exc
    except Exception:
        return sys.exc_info()


MESSAGES = [
    {"method": "ping", "args": {}},
    {"method": "echo", "args": {"value": "naïve ☃ \u2028", "n": [1, 2.5, None, True]}},
    {"method": "m", "args": {"nested": {"a": {"b": [{"c": "d"}]}}}, "namespace": "baseapi"},
    {"method": "m", "args": {"when": datetime.datetime(2026, 1, 2, 3, 4, 5)}, "version": "1.1"},
    {"method": "m", "args": {"s": {3}}, "namespace": None, "version": "6.0"},
]


@pytest.mark.parametrize("message", MESSAGES)
def test_request_bodies_match_oslo_messaging(message):
    ctxt = {"request_id": "req-1", "user_id": "u", "roles": ["admin"], "is_admin": True}
    request = wire.build_request(message, ctxt, "msg-1", "reply_abc", call_monitor_timeout=30)
    ours = wire.encode(request)
    theirs = kombu_json.dumps(oslo_common.serialize_msg(request))
    assert ours == theirs
    assert oslo_common.deserialize_msg(json.loads(ours)) == wire.decode(theirs)


def test_request_keys_in_oslo_order():
    message = {"method": "m", "args": {"a": 1}, "namespace": "ns", "version": "1.2"}
    request = wire.build_request(message, {"user_id": "u"}, "id", "reply_q", None)
    assert list(request) == [
        "method",
        "args",
        "namespace",
        "version",
        "_msg_id",
        "_reply_q",
        "_timeout",
        "_unique_id",
        "_context_user_id",
    ]
    cast = wire.build_request({"method": "m", "args": {}}, {})
    assert list(cast) == ["method", "args", "_unique_id"]


def test_parse_request_hands_the_context_the_client_timeout():
    request = wire.build_request({"method": "m", "args": {}}, {"user_id": "u"}, "id", "q", 40)
    parsed = wire.parse_request(wire.decode(wire.encode(request)))
    assert parsed.ctxt == {"user_id": "u", "client_timeout": 40}
    assert parsed.message == {"method": "m", "args": {}}
    assert (parsed.msg_id, parsed.reply_q, parsed.client_timeout) == ("id", "q", 40)


def test_reply_bodies_match_oslo_messaging():
    reply = wire.build_reply("msg-1", result={"a": [1, 2]})
    assert list(reply) == ["result", "failure", "ending", "_msg_id", "_unique_id"]
    theirs = {"result": {"a": [1, 2]}, "failure": None, "ending": True, "_msg_id": "msg-1"}
    theirs["_unique_id"] = reply["_unique_id"]
    assert wire.encode(reply) == kombu_json.dumps(oslo_common.serialize_msg(theirs))


def test_non_json_arguments_fail_as_in_oslo_messaging():
    request = wire.build_request({"method": "m", "args": {"x": object()}}, {})
    with pytest.raises(ValueError) as ours:
        wire.encode(request)
    with pytest.raises(ValueError) as theirs:
        oslo_common.serialize_msg(request)
    assert str(ours.value) == str(theirs.value)


def test_decode_reads_oslo_version_1_bodies_as_they_are():
    assert wire.decode({"method": "m", "args": {}}) == {"method": "m", "args": {}}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\xff", wire.MalformedMessage),
        ("not json", wire.MalformedMessage),
        ("[1, 2]", wire.MalformedMessage),
        ('{"oslo.version": "2.0", "oslo.message": "[1]"}', wire.MalformedMessage),
        ('{"oslo.version": "3.0", "oslo.message": "{}"}', exceptions.UnsupportedEnvelopeVersion),
    ],
)
def test_decode_rejects_what_it_cannot_read(body, error):
    with pytest.raises(error):
        wire.decode(body)


FAILURES = [
    ValueError("bad value"),
    KeyError("missing"),
    AppError("with kwargs", code=409, detail="conflict"),
    AppError(),
]


@pytest.mark.parametrize("exc", FAILURES, ids=lambda e: type(e).__name__)
def test_failures_serialize_as_oslo_messaging(exc):
    info = exc_info_of(exc)
    assert wire.serialize_failure(info) == oslo_common.serialize_remote_exception(info)


@pytest.mark.parametrize("exc", FAILURES, ids=lambda e: type(e).__name__)
def test_oslo_messaging_reads_our_failures(exc):
    failure = wire.serialize_failure(exc_info_of(exc))
    theirs = oslo_common.deserialize_remote_exception(failure, [THIS_MODULE])
    ours = wire.deserialize_failure(failure, [THIS_MODULE])
    if type(exc).__module__ == "builtins":
        # A builtin's class cannot be swapped: the traceback goes in args[0].
        assert type(ours) is type(theirs) is type(exc)
    else:
        assert type(ours).__name__ == type(theirs).__name__ == type(exc).__name__ + "_Remote"
    assert isinstance(ours, type(exc)) and isinstance(theirs, type(exc))
    assert str(ours) == str(theirs)
    assert getattr(ours, "kwargs", None) == getattr(theirs, "kwargs", None)


def test_a_failure_without_traceback_carries_class_module_and_message_only():
    info = exc_info_of(AppError("no frames", code=1))
    failure = json.loads(wire.serialize_failure((info[0], info[1], None)))
    assert failure["tb"] == []
    assert (failure["class"], failure["module"], failure["message"]) == (
        "AppError",
        THIS_MODULE,
        "no frames",
    )
    theirs = oslo_common.deserialize_remote_exception(json.dumps(failure), [])
    assert (theirs.exc_type, theirs.value, theirs.traceback) == ("AppError", "no frames", [])


def test_passwords_in_a_failure_are_masked_everywhere_in_it():
    url = "postgresql://svc:pa,ss@db/x?password=pa,ss"
    try:
        try:
            raise OSError(f"cannot reach {url}")
        except OSError:
            raise AppError(f"wrapped {url}", url=url)
    except AppError:
        text = wire.serialize_failure(sys.exc_info())
    assert "pa,ss" not in text
    failure = json.loads(text)
    masked = "postgresql://svc:***@db/x?password=***"
    assert failure["message"] == f"wrapped {masked}"
    assert failure["args"] == [f"wrapped {masked}"]
    assert failure["kwargs"] == {"url": masked}
    assert f"OSError: cannot reach {masked}" in "".join(failure["tb"])


def test_exceptions_from_modules_not_allowed_become_remote_error():
    failure = wire.serialize_failure(exc_info_of(AppError("nope", code=1)))
    ours = wire.deserialize_failure(failure, [])
    theirs = oslo_common.deserialize_remote_exception(failure, [])
    assert isinstance(ours, exceptions.RemoteError)
    assert isinstance(theirs, oslo_messaging.RemoteError)
    assert (ours.exc_type, ours.value) == (theirs.exc_type, theirs.value) == ("AppError", "nope")
    assert ours.traceback == theirs.traceback


def test_builtins_are_always_allowed():
    failure = wire.serialize_failure(exc_info_of(KeyError("k")))
    exc = wire.deserialize_failure(failure, [])
    assert type(exc) is KeyError
    assert exc.args[0].startswith("'k'\nTraceback")


def test_svcframe_dispatcher_errors_are_remote_errors_unless_allowed():
    failure = wire.serialize_failure(exc_info_of(exceptions.NoSuchMethod("m")))
    assert isinstance(wire.deserialize_failure(failure, []), exceptions.RemoteError)
    allowed = wire.deserialize_failure(failure, ["svcframe.messaging.exceptions"])
    # Re-built from its args, as oslo.messaging does: the message, not the name.
    assert isinstance(allowed, exceptions.NoSuchMethod)
    assert str(allowed).startswith("Endpoint does not support RPC method m\n")


def test_remote_suffix_is_stripped_when_re_raised():
    original = wire.serialize_failure(exc_info_of(AppError("again", code=2)))
    remote = wire.deserialize_failure(original, [THIS_MODULE])
    assert type(remote).__module__ == THIS_MODULE + "_Remote"
    forwarded = json.loads(wire.serialize_failure(exc_info_of(remote)))
    assert (forwarded["class"], forwarded["module"]) == ("AppError", THIS_MODULE)
    via_oslo = oslo_common.deserialize_remote_exception(json.dumps(forwarded), [THIS_MODULE])
    assert isinstance(via_oslo, AppError) and via_oslo.kwargs == {"code": 2}


def test_failures_from_oslo_messaging_are_read():
    failure = oslo_common.serialize_remote_exception(exc_info_of(AppError("from oslo", x=1)))
    exc = wire.deserialize_failure(failure, [THIS_MODULE])
    assert isinstance(exc, AppError) and exc.kwargs == {"x": 1}
    assert str(exc).startswith("from oslo\n")


def test_unreadable_failure_becomes_remote_error():
    exc = wire.deserialize_failure("not json", [])
    assert isinstance(exc, exceptions.RemoteError)
