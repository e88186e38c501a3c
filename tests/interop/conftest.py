"""Fixtures of the interop suite: the broker, peer processes, cleanup."""

import socket

import kombu
import pytest
from interop_harness import AMQP_URL, RABBIT_HOST, RABBIT_PORT, Janitor, PeerGroup


@pytest.fixture(scope="session")
def rabbit():
    """A kombu connection to the test broker; skips the suite when there is none."""
    try:
        socket.create_connection((RABBIT_HOST, RABBIT_PORT), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"RabbitMQ not reachable at {RABBIT_HOST}:{RABBIT_PORT}: {exc}")
    conn = kombu.Connection(AMQP_URL)
    conn.ensure_connection(max_retries=1)
    yield conn
    conn.release()


@pytest.fixture
def janitor(rabbit):
    j = Janitor(rabbit)
    yield j
    j.cleanup()


@pytest.fixture
def peers(tmp_path):
    group = PeerGroup(tmp_path)
    yield group
    group.stop_all()
