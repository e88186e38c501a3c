"""The fake driver inside one process: call, cast, fanout, server-directed, timeout."""

import threading
import time
import uuid

import pytest
from oslo_config import cfg

from svcframe import messaging
from svcframe.testing import wait_until


class Endpoint:
    def __init__(self, name):
        self.name = name
        self.casts = []
        self.cast_seen = threading.Event()

    def whoami(self, ctxt):
        return self.name

    def add(self, ctxt, a, b):
        return a + b

    def record(self, ctxt, tag):
        self.casts.append(tag)
        self.cast_seen.set()

    def slow(self, ctxt, seconds):
        time.sleep(seconds)
        return seconds


@pytest.fixture
def fake():
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[], default_config_dirs=[])
    transport = messaging.get_rpc_transport(conf, f"fake:///{uuid.uuid4().hex}")
    endpoints = {name: Endpoint(name) for name in ("srv1", "srv2")}
    servers = []
    for name, endpoint in endpoints.items():
        target = messaging.Target(topic="fake", server=name)
        server = messaging.get_rpc_server(transport, target, [endpoint])
        server.start()
        servers.append(server)
    client = messaging.get_rpc_client(transport, messaging.Target(topic="fake"), timeout=5)
    yield client, endpoints
    for server in servers:
        server.stop()
        server.wait()
    transport.cleanup()


def test_call_and_server_directed_call(fake):
    client, _ = fake
    assert client.call({}, "add", a=1, b=2) == 3
    # Competing servers: both answer calls, which one is the broker's choice.
    answered = set()
    wait_until(
        lambda: answered.add(client.call({}, "whoami")) or answered == {"srv1", "srv2"},
        5,
        message=lambda: f"a call answered by each server; got {answered}",
    )
    assert client.prepare(server="srv2").call({}, "whoami") == "srv2"


def test_cast_reaches_one_server(fake):
    client, endpoints = fake
    client.cast({}, "record", tag="one")
    wait_until(lambda: any(e.casts for e in endpoints.values()), 5, message="the cast handled")
    # Both servers take from one queue in order: once each has answered a
    # call sent after the cast, a second copy of it would have been taken.
    answered = set()
    wait_until(
        lambda: answered.add(client.call({}, "whoami")) or answered == {"srv1", "srv2"},
        5,
        message=lambda: f"a call answered by each server; got {answered}",
    )
    assert sum(e.casts.count("one") for e in endpoints.values()) == 1


def test_fanout_reaches_every_server(fake):
    client, endpoints = fake
    client.prepare(fanout=True).cast({}, "record", tag="all")
    wait_until(lambda: all("all" in e.casts for e in endpoints.values()))


def test_call_times_out_on_time(fake):
    client, _ = fake
    start = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout):
        client.prepare(timeout=0.3).call({}, "slow", seconds=1)
    assert 0.3 <= time.monotonic() - start < 0.8
