"""AMQP frames: read in bulk off a real socket as py-amqp would, published as it writes them."""

import socket
import struct
import threading
import time
import types

import amqp
import pytest
from amqp import transport as amqp_transport
from amqp.exceptions import UnexpectedFrame

from svcframe.messaging.drivers.kombu import frames

METHOD, HEADER, BODY = 1, 2, 3


def frame(kind, payload, channel=1, end=b"\xce"):
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + end


def message(n):
    """Three frames, as RabbitMQ sends a delivery: method, content header, body."""
    return frame(METHOD, b"deliver %d" % n) + frame(HEADER, b"props") + frame(BODY, b"body %d" % n)


class CountingSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recvs = 0

    def recv(self, *args):
        self.recvs += 1
        return super().recv(*args)


class Connection(amqp.Connection):
    """A py-amqp Connection over ``transport``, as it is once connected, recording frames.

    A method is handled when its body frame arrives, as py-amqp's frame
    handler returns True then; ``on_body`` runs in that callback.
    """

    def __init__(self, transport):  # not connected by py-amqp: given its transport
        self._transport = transport
        self._on_inbound_frame = self._handle
        self.frames = []
        self.on_body = None

    def _handle(self, received):
        self.frames.append(received)
        if received[0] == BODY:
            if self.on_body is not None:
                self.on_body()
            return True
        return False

    def bodies(self):
        return [payload for kind, _, payload in self.frames if kind == BODY]


@pytest.fixture
def pair():
    ours, peer = socket.socketpair()
    sock = CountingSocket(fileno=ours.detach())
    transport = amqp_transport.TCPTransport("127.0.0.1:5672")
    transport.sock = sock
    transport._setup_transport()
    transport.connected = True
    yield Connection(transport), peer
    sock.close()
    peer.close()


def test_many_messages_sent_at_once_are_cut_from_one_receive(pair):
    conn, peer = pair
    peer.sendall(b"".join(message(n) for n in range(50)))
    for _ in range(50):
        frames.drain(conn, timeout=1)
    assert conn.bodies() == [b"body %d" % n for n in range(50)]
    assert [kind for kind, _, _ in conn.frames] == [METHOD, HEADER, BODY] * 50
    assert conn.transport.sock.recvs == 1
    assert conn.transport._read_buffer == b""


def test_frames_arriving_a_byte_at_a_time_come_out_whole_and_in_order(pair):
    conn, peer = pair
    stream = b"".join(message(n) for n in range(5))

    def trickle():
        for i in range(len(stream)):
            peer.send(stream[i : i + 1])
            if i % 7 == 0:
                time.sleep(0.001)

    writer = threading.Thread(target=trickle)
    writer.start()
    for _ in range(5):
        frames.drain(conn, timeout=5)
    writer.join()
    assert conn.bodies() == [b"body %d" % n for n in range(5)]


def test_a_timeout_keeps_a_partial_frame_for_the_next_drain(pair):
    conn, peer = pair
    whole = message(7)
    peer.sendall(whole[:10])
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        frames.drain(conn, timeout=0.2)
    assert 0.15 < time.monotonic() - started < 2
    with pytest.raises(TimeoutError):
        frames.drain(conn, timeout=0)
    assert conn.transport.connected
    peer.sendall(whole[10:])
    frames.drain(conn, timeout=1)
    assert conn.bodies() == [b"body 7"]
    # The socket is in blocking mode again, as py-amqp keeps it.
    assert conn.transport.sock.gettimeout() is None


def test_a_callback_reading_through_py_amqp_gets_the_next_frame_and_the_drain_goes_on(pair):
    conn, peer = pair
    read = []
    # A synchronous reply awaited in a callback: py-amqp reads it itself.
    conn.on_body = lambda: read.append(conn.transport.read_frame()) if not read else None
    peer.sendall(message(1) + frame(METHOD, b"declare-ok") + message(2))
    frames.drain(conn, timeout=1)
    assert read == [(METHOD, 1, b"declare-ok")]
    frames.drain(conn, timeout=1)
    assert conn.bodies() == [b"body 1", b"body 2"]
    assert b"declare-ok" not in [payload for _, _, payload in conn.frames]
    assert "_read" not in vars(conn.transport)  # py-amqp's own read again


def test_what_is_left_unframed_is_read_by_py_amqp_afterwards(pair):
    conn, peer = pair
    peer.sendall(message(1) + frame(METHOD, b"close-ok"))
    frames.drain(conn, timeout=1)
    assert isinstance(conn.transport._read_buffer, bytes)
    assert conn.transport.read_frame() == (METHOD, 1, b"close-ok")


def test_a_bad_frame_end_is_an_unexpected_frame_and_ends_the_connection(pair):
    conn, peer = pair
    peer.sendall(frame(METHOD, b"x", end=b"\x00"))
    with pytest.raises(UnexpectedFrame):
        frames.drain(conn, timeout=1)
    assert not conn.transport.connected


def test_a_peer_that_closes_ends_the_connection(pair):
    conn, peer = pair
    peer.sendall(message(1)[:5])
    peer.close()
    with pytest.raises(OSError, match="unexpectedly closed"):
        frames.drain(conn, timeout=1)
    assert not conn.transport.connected


def test_a_socket_with_a_timeout_of_its_own_is_left_to_py_amqp(pair):
    conn, peer = pair
    conn.transport.sock.settimeout(5)
    peer.sendall(message(1))
    drained = []
    conn.drain_events = lambda timeout=None: drained.append(timeout)
    frames.drain(conn, timeout=1)
    assert drained == [1]
    assert conn.transport.sock.recvs == 0


def test_a_wakeup_ends_a_waiting_drain_at_once_and_then_lets_it_wait_again(pair):
    conn, peer = pair
    wakeup = frames.Wakeup()
    threading.Timer(0.1, wakeup.set).start()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        frames.drain(conn, timeout=10, wakeup=wakeup)
    assert time.monotonic() - started < 5
    # Cleared by the wait it ended: the next one times out as asked.
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        frames.drain(conn, timeout=0.2, wakeup=wakeup)
    assert time.monotonic() - started >= 0.15


def test_a_wakeup_set_before_the_wait_is_not_lost(pair):
    conn, peer = pair
    wakeup = frames.Wakeup()
    wakeup.set()
    wakeup.set()  # once is enough
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        frames.drain(conn, timeout=10, wakeup=wakeup)
    assert time.monotonic() - started < 5


def test_a_drain_with_a_wakeup_reads_what_arrives_while_it_waits(pair):
    conn, peer = pair
    wakeup = frames.Wakeup()
    threading.Timer(0.1, peer.sendall, [message(3)]).start()
    frames.drain(conn, timeout=10, wakeup=wakeup)
    assert conn.bodies() == [b"body 3"]
    assert conn.transport.sock.gettimeout() is None


class RecordingTransport:
    def __init__(self):
        self.written = []

    def write(self, data):
        self.written.append(bytes(data))


class PublishingConnection:
    """What a py-amqp Connection gives a channel's writer: frame_max, transport, bytes_sent."""

    def __init__(self, frame_max):
        self.frame_max = frame_max
        self._transport = self.transport = RecordingTransport()
        self.bytes_sent = 0


def py_amqp_publish(frame_max, exchange, routing_key, mandatory, properties, body):
    """The bytes py-amqp's own writer sends for the same basic.publish."""
    import amqp
    from amqp.method_framing import frame_writer
    from amqp.serialization import dumps

    conn = PublishingConnection(frame_max)
    message = amqp.Message(body, **properties)
    args = dumps("Bssbb", (0, exchange, routing_key, mandatory, False))
    frame_writer(conn, conn.transport)(1, 3, amqp.spec.Basic.Publish, args, message)
    return b"".join(conn.transport.written)


@pytest.mark.parametrize(
    "exchange, routing_key, mandatory, body",
    [
        ("", "reply_0123", False, b'{"oslo.version": "2.0"}'),
        ("svc", "conductor.host-1", True, "text: caf\u00e9"),
        ("svc", "conductor", True, b""),
        ("svc", "conductor", False, b"x" * 300_000),  # over frame_max: several body frames
    ],
)
@pytest.mark.parametrize("expiration", [None, "60000"])
def test_a_publish_is_the_bytes_py_amqp_writes(exchange, routing_key, mandatory, body, expiration):
    import amqp

    from svcframe.messaging.drivers.kombu.publisher import _header_properties

    properties = {"delivery_mode": 2}
    if expiration is not None:
        properties["expiration"] = expiration
    full = dict(
        priority=0,
        content_type="application/json",
        content_encoding="utf-8",
        application_headers={},
        **properties,
    )
    conn = PublishingConnection(131072)
    channel = types.SimpleNamespace(connection=conn, channel_id=3)
    for _ in range(2):  # the properties computed, then from the cache
        conn.transport.written.clear()
        frames.publish(
            channel, exchange, routing_key, mandatory, _header_properties(properties), body
        )
        assert b"".join(conn.transport.written) == py_amqp_publish(
            131072, exchange, routing_key, mandatory, full, body
        )
    assert conn.bytes_sent == 2
    assert amqp.Message(b"", **full)._serialize_properties() == _header_properties(properties)


def test_a_name_too_long_for_the_frame_is_refused_before_anything_is_written():
    conn = PublishingConnection(131072)
    channel = types.SimpleNamespace(connection=conn, channel_id=1)
    with pytest.raises(ValueError):
        frames.publish(channel, "", "q" * 256, False, b"\x00\x00", b"{}")
    assert conn.transport.written == []


def test_a_connection_already_lost_is_a_recoverable_connection_error(pair):
    from amqp.exceptions import RecoverableConnectionError

    conn, peer = pair
    conn._transport = None  # what py-amqp leaves after a lost connection
    with pytest.raises(RecoverableConnectionError):
        frames.drain(conn, timeout=1)
    publisher = PublishingConnection(131072)
    publisher._transport = None
    channel = types.SimpleNamespace(connection=publisher, channel_id=1)
    with pytest.raises(RecoverableConnectionError):
        frames.publish(channel, "", "q", False, b"\x00\x00", b"{}")
