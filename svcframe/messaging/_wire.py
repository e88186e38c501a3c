"""oslo.messaging's wire format: the v2.0 envelope, requests, replies, failures.

Byte-compatible with oslo.messaging's AMQP drivers: same keys, same key
order, same JSON encoding (including the double encoding of the inner
message), so that either side can talk to the other over one broker.
"""

import json
import re
import sys
import traceback
import uuid

from oslo_serialization import jsonutils

from svcframe.masking import mask_password
from svcframe.messaging import exceptions

__all__ = [
    "ENVELOPE_VERSION",
    "Request",
    "encode",
    "decode",
    "build_request",
    "parse_request",
    "build_reply",
    "serialize_failure",
    "deserialize_failure",
    "MalformedMessage",
    "InvalidReplyAddress",
    "valid_queue_name",
    "scan_reply_address",
    "peek_message",
    "peek_reply_address",
]

ENVELOPE_VERSION = "2.0"
_REMOTE_POSTFIX = "_Remote"
_BUILTINS = "builtins"
_EXCEPTIONS_MODULES = ("exceptions", "builtins")
_CONTEXT_PREFIX = "_context_"


class MalformedMessage(exceptions.MessagingServerError):
    """The body cannot be decoded into a message at all; there is nobody to reply to."""


class InvalidReplyAddress(MalformedMessage):
    """A call whose ``_reply_q`` or ``_msg_id`` cannot be used: it is not run, nor answered."""


# AMQP short strings: at most 255 bytes.
_MAX_NAME_BYTES = 255


def valid_queue_name(name):
    """Whether ``name`` from the wire may be used as a queue name (reply queues).

    A string of 1 to 255 UTF-8 bytes without '/' or control characters:
    what the broker and the embedded transport (a file name) both accept.
    """
    if not isinstance(name, str) or not name:
        return False
    if len(name) > _MAX_NAME_BYTES or len(name.encode("utf-8", "replace")) > _MAX_NAME_BYTES:
        return False
    return "/" not in name and name.isprintable()


def _valid_msg_id(msg_id):
    return isinstance(msg_id, str) and 0 < len(msg_id) <= _MAX_NAME_BYTES and msg_id.isprintable()


# The reply address of a request JSON cannot parse (nested too deep, too
# big): top-level keys of the inner message, as they appear escaped inside
# the envelope's string or unescaped in a version 1.0 body.
_SCAN_PATTERNS = {
    key: (
        re.compile(r'(?:^|[{,]\s*)\\"' + key + r'\\":\s*\\"([^"\\]{1,255})\\"'),
        re.compile(r'(?:^|[{,]\s*)"' + key + r'":\s*"([^"\\]{1,255})"'),
    )
    for key in ("_msg_id", "_reply_q")
}


def scan_reply_address(body):
    """(msg_id, reply_q) found by pattern in a body that cannot be parsed, or (None, None)."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        body = bytes(body).decode("utf-8", "replace")
    if not isinstance(body, str):
        return None, None
    found = {}
    for key, patterns in _SCAN_PATTERNS.items():
        for pattern in patterns:
            # The last match: the top-level keys come after the arguments.
            matches = pattern.findall(body)
            if matches:
                found[key] = matches[-1]
                break
    msg_id, reply_q = found.get("_msg_id"), found.get("_reply_q")
    if _valid_msg_id(msg_id) and valid_queue_name(reply_q):
        return msg_id, reply_q
    return None, None


def _dumps(obj):
    return json.dumps(obj, default=jsonutils.to_primitive)


def encode(msg):
    """The AMQP body for an inner message: the envelope, JSON, as kombu's serializer writes it."""
    # Same bytes as json.dumps({"oslo.version": ..., "oslo.message": ...}),
    # without building the outer dict.
    return '{"oslo.version": "2.0", "oslo.message": %s}' % json.dumps(_dumps(msg))


def decode(body):
    """The inner message dict of an AMQP body (bytes, str or an already-decoded dict).

    Raises MalformedMessage when the body is not JSON or has no object
    inside, and UnsupportedEnvelopeVersion for an envelope this side cannot
    read.  As oslo.messaging does, a dict without the envelope keys is taken
    as a version 1.0 message and returned as it is.
    """
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedMessage(f"message body is not UTF-8 text: {exc}")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise MalformedMessage(f"message body is not JSON: {exc}")
    if not isinstance(body, dict):
        raise MalformedMessage(f"message body is a JSON {type(body).__name__}, not an object")
    if "oslo.version" not in body or "oslo.message" not in body:
        return body
    version = body["oslo.version"]
    if not _envelope_compatible(version):
        raise exceptions.UnsupportedEnvelopeVersion(version)
    inner = body["oslo.message"]
    try:
        inner = json.loads(inner)
    except (TypeError, ValueError) as exc:
        raise MalformedMessage(f"oslo.message is not a JSON string: {exc}")
    if not isinstance(inner, dict):
        raise MalformedMessage(f"oslo.message holds a JSON {type(inner).__name__}, not an object")
    return inner


def peek_message(body):
    """The inner message of an enveloped ``body`` as a dict, unchecked; {} if there is none.

    For describing a message that will not be handled (its envelope
    version is unknown, the broker returned it): any value may be missing
    or of any type.
    """
    try:
        outer = json.loads(body) if isinstance(body, (str, bytes, bytearray)) else body
        inner = json.loads(outer["oslo.message"])
    except Exception:  # noqa: BLE001 - whatever the body is, it has no readable message
        return {}
    return inner if isinstance(inner, dict) else {}


def peek_reply_address(body):
    """(msg_id, reply_q) from a body whose envelope could not be read, or (None, None).

    Lets a server send an error reply to a caller whose request used an
    envelope version it does not support, instead of leaving it to time out.
    """
    inner = peek_message(body)
    msg_id, reply_q = inner.get("_msg_id"), inner.get("_reply_q")
    if _valid_msg_id(msg_id) and valid_queue_name(reply_q):
        return msg_id, reply_q
    return None, None


def _envelope_compatible(version):
    if not isinstance(version, str):
        return False
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    return major == 2 and minor <= 0


class Request:
    """A decoded request: what the dispatcher needs plus where to reply."""

    __slots__ = ("ctxt", "message", "msg_id", "reply_q", "client_timeout", "unique_id")

    def __init__(self, ctxt, message, msg_id, reply_q, client_timeout, unique_id):
        self.ctxt = ctxt
        self.message = message
        self.msg_id = msg_id
        self.reply_q = reply_q
        self.client_timeout = client_timeout
        self.unique_id = unique_id


def build_request(message, ctxt, msg_id=None, reply_q=None, call_monitor_timeout=None):
    """The inner request dict, keys in oslo.messaging's order.

    ``message`` holds method, args and (when set) namespace and version;
    ``ctxt`` is the already-serialized context dict.  A call passes msg_id
    and reply_q; a cast passes neither.
    """
    msg = dict(message)
    if msg_id is not None:
        msg["_msg_id"] = msg_id
        msg["_reply_q"] = reply_q
        msg["_timeout"] = call_monitor_timeout
    msg["_unique_id"] = uuid.uuid4().hex
    for key, value in ctxt.items():
        msg[_CONTEXT_PREFIX + key] = value
    return msg


def parse_request(inner):
    """Split an inner request dict into a Request (context keys, reply address, message)."""
    ctxt = {}
    message = {}
    for key, value in inner.items():
        if key.startswith(_CONTEXT_PREFIX):
            ctxt[key[len(_CONTEXT_PREFIX) :]] = value
        else:
            message[key] = value
    msg_id = message.pop("_msg_id", None)
    reply_q = message.pop("_reply_q", None)
    client_timeout = message.pop("_timeout", None)
    unique_id = message.pop("_unique_id", None)
    # oslo.messaging hands endpoints the call-monitor timeout in the context.
    ctxt["client_timeout"] = client_timeout
    if not isinstance(unique_id, str):
        unique_id = None
    if msg_id is None and reply_q is None:
        pass
    elif not _valid_msg_id(msg_id) or not valid_queue_name(reply_q):
        raise InvalidReplyAddress(
            f"unusable reply address: _reply_q {_excerpt(reply_q)}, _msg_id {_excerpt(msg_id)}"
        )
    return Request(ctxt, message, msg_id, reply_q, client_timeout, unique_id)


def _excerpt(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def build_reply(msg_id, result=None, failure=None, ending=True):
    """The inner reply dict; ``failure`` is the string from serialize_failure()."""
    return {
        "result": result,
        "failure": failure,
        "ending": ending,
        "_msg_id": msg_id,
        "_unique_id": uuid.uuid4().hex,
    }


def serialize_failure(exc_info):
    """The JSON string oslo.messaging puts in a reply's ``failure``.

    ``tb`` is the formatted traceback (chained exceptions included), or an
    empty list when ``exc_info`` has no traceback (``rpc_send_tracebacks``
    off).  Passwords in URLs are masked in the message and the traceback.
    """
    exc = exc_info[1]
    cls_name = type(exc).__name__
    mod_name = type(exc).__module__
    if cls_name.endswith(_REMOTE_POSTFIX) and mod_name.endswith(_REMOTE_POSTFIX):
        cls_name = cls_name[: -len(_REMOTE_POSTFIX)]
        mod_name = mod_name[: -len(_REMOTE_POSTFIX)]
    data = {
        "class": cls_name,
        "module": mod_name,
        "message": mask_password(str(exc)),
        "tb": [mask_password(line) for line in traceback.format_exception(*exc_info)]
        if exc_info[2] is not None
        else [],
        "args": [_masked(a) for a in exc.args],
        "kwargs": {k: _masked(v) for k, v in getattr(exc, "kwargs", {}).items()},
    }
    try:
        return _dumps(data)
    except (TypeError, ValueError):
        # Arguments that do not serialize must not turn an error into a
        # second error: send their text instead.
        data["args"] = [str(a) for a in exc.args]
        data["kwargs"] = {}
        return _dumps(data)


def _masked(value):
    return mask_password(value) if isinstance(value, str) else value


def _text(value, limit=1000):
    """A bounded string for any value a peer sent where a string belongs."""
    if value is None or isinstance(value, str):
        text = value
    else:
        try:
            text = repr(value)
        except Exception:  # noqa: BLE001 - a repr must not fail an error report
            text = f"<{type(value).__name__}>"
    if text is not None and len(text) > limit:
        text = text[:limit] + "..."
    return text


def deserialize_failure(data, allowed_remote_exmods):
    """The exception a caller raises for a reply's ``failure``.

    Builtins and classes from ``allowed_remote_exmods`` are re-raised as
    themselves (as a ``<Name>_Remote`` subclass carrying the remote
    traceback); everything else becomes RemoteError.
    """
    try:
        failure = json.loads(data)
        if not isinstance(failure, dict):
            raise ValueError("not an object")
    except (TypeError, ValueError, RecursionError):
        return exceptions.RemoteError("UnknownError", _text(data), [])
    name = failure.get("class")
    module = failure.get("module")
    text = failure.get("message", "")
    trace = failure.get("tb") or []
    args = failure.get("args", [])
    kwargs = failure.get("kwargs", {})
    trace_ok = isinstance(trace, list) and all(isinstance(line, str) for line in trace)
    if not trace_ok:
        trace = [_text(trace)]
    well_formed = (
        trace_ok
        and isinstance(name, str)
        and isinstance(module, str)
        and isinstance(text, str)
        and isinstance(args, list)
        and isinstance(kwargs, dict)
    )
    if not well_formed:
        # A peer that sends a failure of the wrong shape gets no say in
        # which exception the caller sees.
        return exceptions.RemoteError(_text(name), _text(text), trace)
    message = f"{text}\n" + "\n".join(trace)
    if module in _EXCEPTIONS_MODULES:
        module = _BUILTINS
    if module != _BUILTINS and module not in allowed_remote_exmods:
        return exceptions.RemoteError(name, text, trace)
    try:
        __import__(module)
        klass = getattr(sys.modules[module], name)
        if not (isinstance(klass, type) and issubclass(klass, Exception)):
            raise TypeError("Can only deserialize Exceptions")
        exc = klass(*args, **kwargs)
    except (AttributeError, TypeError, ImportError, ValueError):
        return exceptions.RemoteError(name, text, trace)

    def str_override(self):
        return message

    remote_type = type(
        type(exc).__name__ + _REMOTE_POSTFIX, (type(exc),), {"__str__": str_override}
    )
    remote_type.__module__ = module + _REMOTE_POSTFIX
    try:
        exc.__class__ = remote_type
    except TypeError:
        exc.args = (message,) + exc.args[1:]
    return exc
