"""Delivery guarantees on RabbitMQ: what a server accepted survives its death or its stop.

Servers run in their own processes (delivery_server_process.py) and are
killed with real signals; what they processed is counted from the file
they append to.
"""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import (
    HERE,
    RABBIT_URL,
    envelope,
    new_conf,
    queues_starting_with,
    raw_request,
    unique,
)

from svcframe import messaging
from svcframe.testing import wait_until

pytestmark = [pytest.mark.rabbit, pytest.mark.slow]

CASTS = 400


class DeliveryServer:
    """delivery_server_process.py in a child process."""

    def __init__(
        self, topic, record, ack_mode="after_processing", threads=4, prefetch=0, server=None
    ):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                os.path.join(HERE, "delivery_server_process.py"),
                RABBIT_URL,
                topic,
                server or unique("host"),
                record,
                ack_mode,
                str(threads),
                str(prefetch),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines = []
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.lines.append(line.strip())
                if line.strip() == "ready":
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(30):
            self.proc.kill()
            raise AssertionError("the delivery server did not start within 30 s")

    def stats(self):
        for line in self.lines:
            if line.startswith("stats "):
                return json.loads(line[len("stats ") :])
        return None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def delivery(rpc, topic, tmp_path):
    servers = []
    record = str(tmp_path / "processed")
    open(record, "w").close()

    def start(**kwargs):
        server = DeliveryServer(topic, record, **kwargs)
        servers.append(server)
        return server

    start.record = record
    yield start
    for server in servers:
        server.close()
    rpc.forget_queues(topic, *queues_starting_with(f"{topic}.host_"))
    rpc.forget_queues(*queues_starting_with(f"{topic}_fanout_"))


def processed(record):
    with open(record) as f:
        return [int(line) for line in f.read().split()]


def send_casts(rpc, topic, count):
    transport = rpc.transport()
    client = rpc.client(transport, topic)
    for n in range(count):
        client.cast({}, "work", n=n)
    assert transport._driver._get_publisher().flush(timeout=30)


def wait_for_all(record, count, timeout):
    try:
        wait_until(lambda: set(processed(record)) >= set(range(count)), timeout, interval=0.1)
    except AssertionError:
        missing = sorted(set(range(count)) - set(processed(record)))
        raise AssertionError(f"{len(missing)} of {count} casts never processed: {missing[:20]}")


def test_a_killed_worker_loses_no_cast_after_processing(rpc, topic, delivery):
    first = delivery(threads=4)
    send_casts(rpc, topic, CASTS)
    wait_until(lambda: len(processed(delivery.record)) >= 60, 30, message="60 casts processed")
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(10)
    done_before = len(processed(delivery.record))
    assert done_before < CASTS, "the worker finished everything before it was killed"

    delivery(threads=4)
    wait_for_all(delivery.record, CASTS, timeout=60)
    seen = processed(delivery.record)
    duplicates = len(seen) - len(set(seen))
    print(f"killed after {done_before} casts; {duplicates} run twice; 0 lost")
    # At-least-once: only what was running when the worker died runs twice.
    assert duplicates <= 4


@pytest.mark.parametrize("ack_mode", ["after_processing", "on_receipt"])
def test_sigterm_gives_the_backlog_back_and_exits_0(rpc, topic, delivery, ack_mode):
    first = delivery(threads=1, prefetch=50, ack_mode=ack_mode)
    send_casts(rpc, topic, 300)
    wait_until(lambda: len(processed(delivery.record)) >= 20, 30, message="20 casts processed")
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(20) == 0
    wait_until(first.stats, 5, message="the stopped server's stats")
    stats = first.stats()
    done_by_first = len(processed(delivery.record))
    assert done_by_first < 300
    # Nothing waited for the single thread: only the running cast was finished.
    assert stats["stop_seconds"] < 5, stats
    assert stats["returned"] >= 10, stats
    assert stats["max_waiting"] <= 50, stats

    delivery(threads=4)
    wait_for_all(delivery.record, 300, timeout=60)
    seen = processed(delivery.record)
    assert len(seen) == len(set(seen)), "a cast given back on SIGTERM ran twice"


def test_the_backlog_in_memory_never_exceeds_the_prefetch(rpc, topic, rabbit_admin):
    conf = new_conf(rabbit_qos_prefetch_count=10)
    conf.set_override("executor_thread_pool_size", 2)

    class Slow:
        def __init__(self):
            self.count = 0
            self.lock = threading.Lock()

        def work(self, ctxt, n):
            time.sleep(0.01)
            with self.lock:
                self.count += 1

    endpoint = Slow()
    server = rpc.server(rpc.transport(conf=conf), topic, [endpoint])
    send_casts(rpc, topic, 200)
    # While the server works through them, the rest stays in the broker.
    in_broker = rabbit_admin.queue_info(topic)[0]
    wait_until(lambda: endpoint.count >= 200, 60, message="200 casts processed")
    stats = server.stats()
    print(f"in the broker while busy: {in_broker}; server stats: {stats}")
    assert in_broker > 100
    assert stats["max_held"] <= 10, stats
    assert stats["max_waiting"] <= 10, stats
    assert stats["received"] == 200


def test_the_default_prefetch_is_twice_the_executor_threads(rpc, topic, rabbit_admin):
    conf = new_conf()
    conf.set_override("executor_thread_pool_size", 3)
    release = threading.Event()

    class Blocked:
        def work(self, ctxt, n):
            release.wait(30)

    server = rpc.server(rpc.transport(conf=conf), topic, [Blocked()])
    try:
        send_casts(rpc, topic, 50)
        # prefetch 0 means 2 x 3 = 6 in total, 3 of them for the topic queue
        # (2 for topic.host, 1 for fanout).
        wait_until(lambda: server.stats()["received"] >= 3, 10, message="3 casts received")
        time.sleep(0.5)
        assert server.stats()["received"] == 3
        assert rabbit_admin.queue_info(topic)[0] == 47
    finally:
        release.set()


def test_an_on_receipt_server_gives_back_what_it_has_not_started_when_stopped(
    rpc, topic, rabbit_admin
):
    conf = new_conf(rabbit_qos_prefetch_count=20)
    conf.set_override("executor_thread_pool_size", 1)
    release = threading.Event()

    class Blocked:
        def work(self, ctxt, n):
            release.wait(30)

    server = rpc.server(rpc.transport(conf=conf), topic, [Blocked()])
    send_casts(rpc, topic, 30)
    wait_until(lambda: server.stats()["waiting"] >= 8, 10, message="a local backlog")
    server.stop()
    release.set()
    server.wait()
    stats = server.stats()
    # The one running was finished (and acked); every other came back.
    assert stats["returned"] == stats["received"] - 1
    wait_until(lambda: rabbit_admin.queue_info(topic)[0] == 29, 10, message="29 back in queue")


def test_a_server_override_of_the_ack_mode_is_checked(rpc, topic):
    transport = rpc.transport()
    target = messaging.Target(topic=topic, server="s")
    with pytest.raises(ValueError, match="ack_mode"):
        messaging.get_rpc_server(transport, target, [], ack_mode="sometimes")
    server = messaging.get_rpc_server(transport, target, [], ack_mode="on_receipt")
    assert server.ack_mode == "on_receipt"
    assert messaging.get_rpc_server(transport, target, []).ack_mode == "after_processing"


def test_a_server_that_loses_its_connection_consumes_again_at_once(rpc, topic, caplog):
    server = rpc.server(rpc.transport(), topic, [_Echo()])
    client = rpc.client(rpc.transport(), topic, timeout=10)
    assert client.call({}, "echo", value=0) == 0
    consumer = server._listener._thread
    old = consumer.conn
    with caplog.at_level(logging.INFO, logger="svcframe.messaging.drivers.kombu.connection"):
        # What a broker restart looks like from the server: its socket closes.
        old.connection.transport.sock.shutdown(socket.SHUT_RDWR)
        lost_at = time.monotonic()
        wait_until(
            lambda: consumer.conn is not None and consumer.conn is not old,
            5,
            message="the server connected again",
        )
        back_after = time.monotonic() - lost_at
        assert client.call({}, "echo", value=1) == 1
    print(f"consuming again {back_after:.2f} s after losing the connection")
    # The first attempt is immediate (no backoff before it).
    assert back_after < 1.0
    assert "consuming again" in caplog.text
    assert "Traceback" not in caplog.text


class _Echo:
    def echo(self, ctxt, value):
        return value


def test_a_backlog_received_before_a_reconnect_runs_once_each(rpc, topic):
    conf = new_conf(rabbit_qos_prefetch_count=20)
    conf.set_override("executor_thread_pool_size", 1)
    release = threading.Event()
    done = []

    class Gated:
        def work(self, ctxt, n):
            release.wait(30)
            done.append(n)

    server = rpc.server(rpc.transport(conf=conf), topic, [Gated()])
    send_casts(rpc, topic, 15)
    wait_until(lambda: server.stats()["waiting"] >= 8, 10, message="a local backlog")
    consumer = server._listener._thread
    old = consumer.conn
    old.connection.transport.sock.shutdown(socket.SHUT_RDWR)
    wait_until(lambda: consumer.conn not in (None, old), 5, message="reconnected")
    release.set()
    wait_until(lambda: set(done) == set(range(15)), 20, message="every cast processed")
    time.sleep(0.5)
    # The one running when the connection went was run once, and its
    # redelivery dropped; the ones waiting ran from their redelivery only.
    assert sorted(done) == list(range(15))


def test_the_same_message_delivered_twice_runs_once(rpc, topic, rabbit_admin):
    done = []

    class Recording:
        def work(self, ctxt, n):
            done.append(n)

    rpc.server(rpc.transport(), topic, [Recording()])
    body = envelope(raw_request("work", {"n": 1}))
    rabbit_admin.publish(topic, body)
    rabbit_admin.publish(topic, body)
    rabbit_admin.publish(topic, envelope(raw_request("work", {"n": 2})))
    wait_until(lambda: 2 in done, 10, message="the last cast processed")
    time.sleep(0.3)
    assert sorted(done) == [1, 2]


def test_a_server_whose_queue_is_deleted_declares_it_again(rpc, topic, rabbit_admin):
    rpc.server(rpc.transport(), topic, [_Echo()], server="s1")
    client = rpc.client(rpc.transport(), topic, server="s1", timeout=5)
    assert client.call({}, "echo", value=0) == 0
    rabbit_admin.delete_queue(f"{topic}.s1")
    wait_until(
        lambda: rabbit_admin.queue_exists(f"{topic}.s1"), 10, message="the queue declared again"
    )
    assert client.call({}, "echo", value=1) == 1
