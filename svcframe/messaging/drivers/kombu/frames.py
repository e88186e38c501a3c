"""Reading AMQP frames off a py-amqp connection many at a time.

py-amqp reads a frame with three ``recv()`` calls of exactly the bytes it
needs next (header, payload, end octet) and wraps each frame in a pair of
``settimeout()`` calls; a message is three frames.  On a socket in blocking
mode a ``settimeout()`` is two ``fcntl()`` calls and a timed ``recv()`` a
``poll()`` and a ``recv()``: about thirty system calls per message.  Here a
non-blocking ``recv()`` takes whatever the kernel holds (under load, many
messages) and the frames are cut from that; the socket's timeout is touched
only when nothing is waiting.

The bytes received and not yet framed stay in the transport's own buffer,
where py-amqp's reads find them: a reply awaited inside a callback, or the
close of the connection.  TLS and green sockets are read by py-amqp.
"""

import _socket
import errno
import functools
import socket
import struct

from amqp import transport as amqp_transport
from amqp.exceptions import UnexpectedFrame

__all__ = ["drain"]

_HEADER = struct.Struct(">BHI")
_HEADER_SIZE = 7
_FRAME_END = 0xCE
# One recv takes up to this much; a larger frame is read in one more recv.
_RECV_SIZE = 65536
# Errors after which py-amqp still counts the connection as connected.
_UNAVAILABLE = frozenset({errno.EAGAIN, errno.EINTR, errno.ENOENT, errno.EWOULDBLOCK})


def drain(raw, timeout=None):
    """What ``raw.drain_events(timeout)`` does: read until one method is handled.

    ``raw`` is a py-amqp Connection.  Raises TimeoutError when nothing
    arrives within ``timeout`` seconds, as py-amqp does.
    """
    transport = raw.transport
    if not _bufferable(transport):
        return raw.drain_events(timeout=timeout)
    on_frame = raw.on_inbound_frame
    # What is received and not framed: (bytes, offset) in ``_unframed``
    # while this holds it; py-amqp's buffer when py-amqp read meanwhile.
    unframed = getattr(transport, "_unframed", None)
    data, pos = unframed if unframed is not None else (transport._read_buffer, 0)
    # A callback that waits for a reply on this connection reads through
    # py-amqp: its first read takes back what is not framed yet.
    outer_read = transport.__dict__.get("_read")
    transport._read = functools.partial(_read_after_unframed, transport)
    transport._unframed = (data, pos)
    try:
        while True:
            size = len(data) - pos
            if size >= _HEADER_SIZE:
                frame_type, channel, length = _HEADER.unpack_from(data, pos)
                end = pos + _HEADER_SIZE + length
                if len(data) > end:
                    if data[end] != _FRAME_END:
                        transport.connected = False
                        raise UnexpectedFrame(
                            f"Received frame_end {data[end]:#04x} while expecting 0xce"
                        )
                    payload = data[pos + _HEADER_SIZE : end]
                    pos = end + 1
                    transport._unframed = (data, pos)
                    if on_frame((frame_type, channel, payload)):
                        return
                    if transport._unframed is None:
                        data, pos = transport._read_buffer, 0
                        transport._unframed = (data, pos)
                    continue
                want = end + 1 - len(data)
            else:
                want = _HEADER_SIZE - size
            chunk = _receive(transport, max(want, _RECV_SIZE), timeout)
            data, pos = data[pos:] + chunk, 0
            transport._unframed = (data, pos)
    finally:
        unframed, transport._unframed = transport._unframed, None
        if unframed is not None:
            data, pos = unframed
            transport._read_buffer = data[pos:] if pos else data
        if outer_read is None:
            del transport._read
        else:
            transport._read = outer_read


def _read_after_unframed(transport, n, initial=False):
    unframed = transport._unframed
    if unframed is not None:
        data, pos = unframed
        transport._read_buffer = data[pos:]
        transport._unframed = None
    return amqp_transport.TCPTransport._read(transport, n, initial)


def _bufferable(transport):
    sock = getattr(transport, "sock", None)
    # A plain socket in blocking mode: MSG_DONTWAIT then never waits.
    return (
        type(transport) is amqp_transport.TCPTransport
        and isinstance(sock, _socket.socket)
        and sock.gettimeout() is None
    )


def _receive(transport, size, timeout):
    sock = transport.sock
    try:
        try:
            chunk = sock.recv(size, socket.MSG_DONTWAIT)
        except BlockingIOError:
            if timeout == 0:
                raise TimeoutError("timed out") from None
            # having_timeout turns an SO_RCVTIMEO expiry into a timeout, as in py-amqp.
            with transport.having_timeout(timeout):
                chunk = sock.recv(size)
    except TimeoutError:
        raise
    except OSError as exc:
        if exc.errno not in _UNAVAILABLE:
            transport.connected = False
        raise
    if not chunk:
        transport.connected = False
        raise OSError("Server unexpectedly closed connection")
    return chunk
