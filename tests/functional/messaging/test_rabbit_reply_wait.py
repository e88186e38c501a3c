"""Callers that share one transport read their replies themselves (leader/follower).

Many callers, replies that arrive out of order, a reply connection that
breaks while a caller is reading it: every caller gets its own result, and
none waits for a timeout.
"""

import socket
import threading
import time

from conftest import new_conf
from reply_callers import Echo, join_callers, start_callers

from svcframe.testing import wait_until


def test_concurrent_callers_each_get_their_own_reply(rpc, topic):
    conf = new_conf()
    conf.set_override("executor_thread_pool_size", 16)
    rpc.server(rpc.transport(conf=conf), topic, [Echo()])
    client = rpc.client(rpc.transport(), topic, timeout=20)
    # Replies come back out of order: a leader reads others' replies first.
    started = time.monotonic()
    threads, outcomes = start_callers(client, 8, (0.0, 0.0, 0.001, 0.005, 0.02), calls=40)
    join_callers(threads)
    # 8 * 40 calls, each with its own result.
    assert outcomes == [True] * 320
    # A missed hand-over would cost a follower 50 ms per call, a lost reply
    # the whole timeout: 320 calls of at most 20 ms on 16 threads take far less.
    assert time.monotonic() - started < 30


def test_callers_read_replies_and_the_reply_thread_stands_by(rpc, topic):
    rpc.server(rpc.transport(), topic, [Echo()])
    transport = rpc.transport()
    client = rpc.client(transport, topic, timeout=10)
    assert client.call({}, "echo", value=0) == 0
    waiter = transport._driver._reply_waiter
    assert waiter._raw is not None, "callers cannot read the reply connection"
    for n in range(200):
        assert client.call({}, "echo", value=n) == n


def test_a_reply_connection_lost_under_callers_reconnects_and_calls_go_on(rpc, topic):
    rpc.server(rpc.transport(), topic, [Echo()])
    transport = rpc.transport()
    # Replies the broker had delivered to the lost connection are lost with
    # it: their calls time out, quickly here.
    client = rpc.client(transport, topic, timeout=3)
    assert client.call({}, "echo", value=0) == 0
    waiter = transport._driver._reply_waiter
    consumer = waiter._consumer
    old = consumer.conn
    stop = threading.Event()
    threads, outcomes = start_callers(client, 4, (0.002,), stop=stop)
    try:
        wait_until(lambda: len(outcomes) >= 40, 10, message="calls under way")
        # What a broker restart looks like to the reply connection: its socket closes.
        old.connection.transport.sock.shutdown(socket.SHUT_RDWR)
        wait_until(
            lambda: consumer.conn is not None and consumer.conn is not old,
            10,
            message="reconnected",
        )
        done_before = len(outcomes)
        wait_until(
            lambda: len(outcomes) >= done_before + 200, 20, message="calls after the reconnect"
        )
    finally:
        stop.set()
        join_callers(threads)
    failures = [o for o in outcomes if o is not True]
    # No caller gets someone else's result; the calls in flight may time out.
    assert all(isinstance(f, str) and "Timeout" in f for f in failures), failures
    assert len(failures) <= 4
    # And the callers lead again on the new connection.
    assert waiter._raw is not None
    for n in range(50):
        assert client.call({}, "echo", value=n) == n
