"""AMQP frames on a py-amqp connection: read many at a time, basic.publish written lean.

py-amqp reads a frame with three ``recv()`` calls of exactly the bytes it
needs next (header, payload, end octet) and wraps each frame in a pair of
``settimeout()`` calls; a message is three frames.  On a socket in blocking
mode a ``settimeout()`` is two ``fcntl()`` calls and a timed ``recv()`` a
``poll()`` and a ``recv()``: about thirty system calls per message.  Here a
non-blocking ``recv()`` takes whatever the kernel holds (under load, many
messages) and the frames are cut from that; when nothing is there, the
drain waits in ``poll()`` and the socket stays in blocking mode.

A drain given a ``Wakeup`` polls the socket and the wakeup's pipe, so that
another thread can end it at once: a server's executor threads settle acks
that only the consumer thread may send, and the broker sends nothing more
while the prefetch window is full of them.

The bytes received and not yet framed stay in the transport's own buffer,
where py-amqp's reads find them: a reply awaited inside a callback, or the
close of the connection.  TLS and green sockets are read by py-amqp.

``publish()`` writes the three frames of a basic.publish as py-amqp would,
byte for byte, without the generic path's per-call argument serializer,
format strings and promise: a fifth of a server's time per call went there.
"""

import _socket
import errno
import functools
import math
import os
import select
import socket
import struct

import amqp
from amqp import transport as amqp_transport
from amqp.exceptions import RecoverableConnectionError, UnexpectedFrame

__all__ = ["drain", "publish", "Wakeup"]

_HEADER = struct.Struct(">BHI")  # type, channel, payload size
_HEADER_SIZE = _HEADER.size
_FRAME_END = 0xCE
_END = bytes((_FRAME_END,))
_CONTENT_HEADER = struct.Struct(">HHQ")  # class, weight, body size
# basic.publish: class 60, method 40, the reserved ticket 0.
_PUBLISH = struct.pack(">HHH", 60, 40, 0)
# One recv takes up to this much; a larger frame is read in one more recv.
_RECV_SIZE = 65536
# Errors after which py-amqp still counts the connection as connected.
_UNAVAILABLE = frozenset({errno.EAGAIN, errno.EINTR, errno.ENOENT, errno.EWOULDBLOCK})


def drain(raw, timeout=None, wakeup=None):
    """What ``raw.drain_events(timeout)`` does: read until one method is handled.

    ``raw`` is a py-amqp Connection (another connection, a kombu one of
    the embedded transport, drains itself).  Raises TimeoutError when
    nothing arrives within ``timeout`` seconds, as py-amqp does, or when
    ``wakeup`` (a Wakeup) is set while the drain waits.
    """
    if not isinstance(raw, amqp.Connection):
        return raw.drain_events(timeout=timeout)
    transport = _transport_of(raw)
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
            chunk = _receive(transport, max(want, _RECV_SIZE), timeout, wakeup)
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


def _transport_of(conn):
    # Not conn.transport: after a lost connection it warns and gives None.
    transport = getattr(conn, "_transport", None)
    if transport is None:
        raise RecoverableConnectionError("connection already closed")
    return transport


def _bufferable(transport):
    sock = getattr(transport, "sock", None)
    # A plain socket in blocking mode: MSG_DONTWAIT then never waits.
    return (
        type(transport) is amqp_transport.TCPTransport
        and isinstance(sock, _socket.socket)
        and sock.gettimeout() is None
    )


class Wakeup:
    """Ends a drain waiting in another thread; set() from any thread, cheap when already set."""

    def __init__(self):
        self._read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._set = False
        self._poller = None
        self._polled_fd = None

    def fileno(self):
        return self._read_fd

    def set(self):
        if self._set:
            return
        self._set = True
        try:
            os.write(self._write_fd, b"\0")
        except OSError:
            pass  # full: a wakeup is pending anyway

    def clear(self):
        # Read, then clear the flag: a set() in between writes again, which
        # at worst wakes the next wait for nothing.  Never a set() lost.
        try:
            os.read(self._read_fd, 4096)
        except OSError:
            pass  # empty
        self._set = False

    def wait(self, sock, timeout):
        """Wait until ``sock`` is readable (True) or the wakeup is set or ``timeout`` passes."""
        fd = sock.fileno()
        if self._polled_fd != fd:
            self._poller = select.poll()
            self._poller.register(fd, select.POLLIN)
            self._poller.register(self._read_fd, select.POLLIN)
            self._polled_fd = fd
        ready = self._poller.poll(_milliseconds(timeout))
        if any(ready_fd == self._read_fd for ready_fd, _ in ready):
            self.clear()
            return False
        return bool(ready)

    def __del__(self):
        # Not closed by hand: a set() racing a close could write to a
        # reused descriptor.  Unreachable, nobody can set() it any more.
        for fd in (self._read_fd, self._write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def _receive(transport, size, timeout, wakeup=None):
    sock = transport.sock
    try:
        while True:
            try:
                chunk = sock.recv(size, socket.MSG_DONTWAIT)
                break
            except BlockingIOError:
                if timeout == 0:
                    raise TimeoutError("timed out") from None
            # poll(), not the socket's timeout: settimeout() on a blocking
            # socket costs two fcntl() calls, and again to put it back.
            if wakeup is not None:
                readable = wakeup.wait(sock, timeout)
            else:
                readable = _poller(transport, sock).poll(_milliseconds(timeout))
            if not readable:
                raise TimeoutError("timed out")
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


def _poller(transport, sock):
    fd = sock.fileno()
    cached = transport.__dict__.get("_poller")
    if cached is None or cached[0] != fd:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        cached = transport._poller = (fd, poller)
    return cached[1]


def _milliseconds(timeout):
    return None if timeout is None else math.ceil(timeout * 1000)


def publish(channel, exchange, routing_key, mandatory, properties, body):
    """Write basic.publish of ``body`` on the py-amqp ``channel``, without confirm or wait.

    ``properties`` is the header frame's serialized property list (flags
    and values), as ``amqp.Message._serialize_properties()`` makes it;
    ``body`` is bytes or text (sent as UTF-8).  Raises what py-amqp's write
    raises; a name over 255 bytes is a ValueError.
    """
    conn = channel.connection
    if conn is None:
        raise RecoverableConnectionError("connection already closed")
    exchange = exchange.encode("utf-8", "surrogatepass")
    routing_key = routing_key.encode("utf-8", "surrogatepass")
    if isinstance(body, str):
        body = body.encode("utf-8")
    number = channel.channel_id
    method = b"".join(
        (
            _PUBLISH,
            bytes((len(exchange),)),
            exchange,
            bytes((len(routing_key),)),
            routing_key,
            b"\x01" if mandatory else b"\x00",  # mandatory, not immediate
        )
    )
    header = _CONTENT_HEADER.pack(60, 0, len(body)) + properties
    parts = [
        _HEADER.pack(1, number, len(method)),
        method,
        _END,
        _HEADER.pack(2, number, len(header)),
        header,
        _END,
    ]
    chunk = conn.frame_max - 8
    for start in range(0, len(body), chunk):
        piece = body[start : start + chunk]
        parts += (_HEADER.pack(3, number, len(piece)), piece, _END)
    _transport_of(conn).write(b"".join(parts))
    # What heartbeat_tick() looks at to know the connection was used.
    conn.bytes_sent += 1
