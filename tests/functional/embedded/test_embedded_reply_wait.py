"""Callers read their replies themselves on the embedded transport (leader/follower).

Many callers sharing one client, replies that arrive out of order, the
data directory deleted while callers wait: every caller gets its own
result, and none waits for a timeout.
"""

import shutil
import threading
import time
import uuid

import pytest
from oslo_config import cfg
from reply_callers import Echo, join_callers, start_callers

from svcframe import messaging
from svcframe.conf import register_messaging_opts
from svcframe.testing import wait_until


def _transport(data_dir, **overrides):
    conf = cfg.ConfigOpts()
    conf(args=[], project="svcframe-test", default_config_files=[])
    register_messaging_opts(conf)
    conf.set_override("rpc_response_timeout", 20)
    for name, value in overrides.items():
        conf.set_override(name, value)
    return messaging.get_rpc_transport(conf, "embedded://" + str(data_dir))


@pytest.fixture
def service(tmp_path):
    data_dir = tmp_path / "queues"
    topic = f"replies-{uuid.uuid4().hex}"
    server_transport = _transport(data_dir, executor_thread_pool_size=16)
    server = messaging.get_rpc_server(
        server_transport, messaging.Target(topic=topic, server="s1"), [Echo()], "threading"
    )
    server.start()
    transport = _transport(data_dir)
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=15)
    yield data_dir, transport, client
    transport.cleanup()
    server.stop()
    server.wait()
    server_transport.cleanup()


def test_callers_read_their_replies_and_each_gets_its_own(service):
    _data_dir, transport, client = service
    assert client.call({}, "echo", value=0) == 0
    waiter = transport._driver._reply_waiter
    assert waiter._raw is not None, "callers cannot read the reply queue"
    started = time.monotonic()
    # Replies come back out of order: a leader reads others' replies first.
    threads, outcomes = start_callers(client, 8, (0.0, 0.0, 0.001, 0.005, 0.02), calls=40)
    join_callers(threads)
    assert outcomes == [True] * 320
    # A missed hand-over costs a follower 50 ms per call, a lost reply the
    # whole timeout: 320 calls of at most 20 ms on 16 threads take far less.
    assert time.monotonic() - started < 30


def test_calls_go_on_after_the_data_directory_is_deleted_understart_callers(service):
    data_dir, transport, client = service
    assert client.call({}, "echo", value=0) == 0
    # The calls in flight when the directory goes time out: quickly here.
    client = client.prepare(timeout=3)
    stop = threading.Event()
    threads, outcomes = start_callers(client, 4, (0.002,), stop=stop)
    try:
        wait_until(lambda: len(outcomes) >= 40, 10, message="calls under way")
        served_before = outcomes.count(True)
        # The callers, not the consuming thread, are reading when it goes:
        # the consuming thread must still learn of it and declare the reply
        # queue again, or no reply could ever arrive.
        shutil.rmtree(data_dir, ignore_errors=True)
        wait_until(lambda: outcomes.count(True) >= served_before + 40, 30, message="served again")
    finally:
        stop.set()
        join_callers(threads)
    failures = [o for o in outcomes if o is not True]
    # Calls in flight when the directory went may time out, and calls made
    # before the server declared its queue again find nobody; no caller gets
    # someone else's result.
    expected = ("MessagingTimeout", "UnroutableCall")
    assert all(isinstance(f, str) and f.startswith(expected) for f in failures), failures


def test_acks_sent_without_waking_the_server_still_go_out_at_once(service):
    data_dir, _transport, client = service
    for n in range(20):
        assert client.call({}, "echo", value=n) == n

    def acked():
        return not any(any(p.iterdir()) for p in (data_dir / "queues").glob("*/.claimed"))

    # The server's consumer thread sleeps 5 s when idle: an ack left for its
    # next wake would keep the last request claimed that long.
    wait_until(acked, 1.0, message="every request acked")
