"""Reading a delivery's body the way kombu would, with limits kombu does not have.

kombu decompresses a body named by its ``compression`` header before any
callback runs, with no size limit, and a header it does not know makes the
delivery fail inside kombu: the message is then neither acked nor
rejected and holds a prefetch credit forever.  Servers read raw bodies and
decompress them here, into at most ``MAX_BODY_BYTES``.
"""

import bz2
import lzma
import zlib

__all__ = ["MAX_BODY_BYTES", "BadPayload", "read_body"]

# A request larger than this once decompressed is refused (RabbitMQ's own
# default limit on a message is 16 MiB).
MAX_BODY_BYTES = 64 * 1024 * 1024

_JSON_TYPES = ("application/json", "")


class BadPayload(ValueError):
    """The body cannot be turned into JSON text: bad compression, too big, wrong type."""


def _zlib():
    # kombu's 'application/x-gzip' is zlib's format; wbits=47 also reads gzip.
    return zlib.decompressobj(47)


def _bz2():
    return bz2.BZ2Decompressor()


def _lzma():
    return lzma.LZMADecompressor()


# The names kombu's compression registry uses (and their aliases).
_DECOMPRESSORS = {
    "application/x-gzip": _zlib,
    "zlib": _zlib,
    "gzip": _zlib,
    "application/x-bz2": _bz2,
    "bzip2": _bz2,
    "application/x-lzma": _lzma,
    "lzma": _lzma,
    "xz": _lzma,
}


def read_body(body, headers=None, content_type=None, limit=MAX_BODY_BYTES):
    """The JSON text (str or bytes) of a delivery; BadPayload if it has none."""
    if content_type is not None:
        if not isinstance(content_type, str):
            raise BadPayload("the content type is not a string")
        if content_type.split(";", 1)[0].strip().lower() not in _JSON_TYPES:
            raise BadPayload(f"unsupported content type {content_type[:64]!r}")
    compression = headers.get("compression") if isinstance(headers, dict) else None
    if compression is None:
        if len(body) > limit:
            raise BadPayload(f"the body is larger than {limit} bytes")
        return body
    if not isinstance(compression, str):
        raise BadPayload("the compression header is not a string")
    make = _DECOMPRESSORS.get(compression.lower())
    if make is None:
        raise BadPayload(f"unsupported compression {compression[:64]!r}")
    if isinstance(body, str):
        body = body.encode("latin-1", "replace")
    decompressor = make()
    try:
        # One byte over the limit is enough to know it is too big; a zlib
        # bomb never expands further than that.
        data = decompressor.decompress(body, limit + 1)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise BadPayload(f"the body cannot be decompressed ({compression[:64]}): {exc}")
    if len(data) > limit:
        raise BadPayload(f"the body is larger than {limit} bytes once decompressed")
    return data
