"""Fixtures for the eventlet suite: the broker and monkey-patched peer processes."""

import socket
import sys
import uuid

import kombu
import pytest
from eventlet_harness import AMQP_URL, PEER, RABBIT_HOST, RABBIT_PORT, TRANSPORT_URL
from peer_process import PeerProcess


@pytest.fixture(scope="session")
def rabbit():
    try:
        socket.create_connection((RABBIT_HOST, RABBIT_PORT), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"RabbitMQ not reachable at {RABBIT_HOST}:{RABBIT_PORT}: {exc}")
    conn = kombu.Connection(AMQP_URL)
    conn.ensure_connection(max_retries=1)
    yield conn
    conn.release()


@pytest.fixture(scope="module")
def green_server(rabbit, tmp_path_factory):
    """A monkey-patched server process (executor='eventlet'): (exchange, topic)."""
    exchange, topic = f"green-{uuid.uuid4().hex[:10]}", "green"
    log = tmp_path_factory.mktemp("eventlet") / "server.stderr"
    argv = [sys.executable, PEER, "server", "--url", TRANSPORT_URL]
    argv += ["--exchange", exchange, "--topic", topic]
    server = PeerProcess("server", argv, log)
    try:
        server.wait_ready()
        yield exchange, topic
    finally:
        server.stop()
        try:
            channel = rabbit.channel()
            for name in (topic, f"{topic}.green"):
                channel.queue_delete(name)
            channel.exchange_delete(exchange)
            channel.close()
        except Exception:  # noqa: BLE001 - best effort: the broker may be gone
            pass


@pytest.fixture
def green_client(green_server, tmp_path):
    """Runs a monkey-patched client process against the green server."""
    exchange, topic = green_server

    def run(calls, seconds):
        argv = [sys.executable, PEER, "client", "--url", TRANSPORT_URL]
        argv += ["--exchange", exchange, "--topic", topic]
        argv += ["--calls", str(calls), "--seconds", str(seconds)]
        peer = PeerProcess("client", argv, tmp_path / "client.stderr")
        try:
            return peer.result()
        finally:
            peer.stop()

    return run
