"""A server whose prefetch window is full sends its acks as soon as they are settled.

The broker sends nothing more to a consumer whose window is full of
unacked deliveries, and only the consumer thread may ack them: the
executor threads that settle them wake it. On a timer instead, a server
with few executor threads ran a window per tick (1,500 casts/s with 4
threads, against 8,800/s woken).
"""

import threading

import pytest
from conftest import new_conf

from svcframe.messaging.drivers.kombu import listener
from svcframe.testing import wait_until

pytestmark = pytest.mark.rabbit

CASTS = 30


class Recorder:
    def __init__(self):
        self.seen = []
        self.lock = threading.Lock()

    def work(self, ctxt, n):
        with self.lock:
            self.seen.append(n)


@pytest.mark.parametrize("ack_mode", ["after_processing", "on_receipt"])
def test_acks_of_a_full_window_go_out_without_waiting_for_the_consumer_timer(
    rpc, topic, monkeypatch, ack_mode
):
    # A timer this slow would take about CASTS / 2 seconds: only wakeups pass.
    monkeypatch.setattr(listener, "SETTLE_POLL_INTERVAL", 1.0)
    monkeypatch.setattr(listener, "QUIET_POLL_INTERVAL", 1.0)
    conf = new_conf(rabbit_qos_prefetch_count=2)
    conf.set_override("executor_thread_pool_size", 1)
    conf.set_override("rpc_ack_mode", ack_mode)
    transport = rpc.transport(conf=conf)
    recorder = Recorder()
    rpc.server(transport, topic, [recorder])
    client = rpc.client(transport, topic)
    for n in range(CASTS):
        client.cast({}, "work", n=n)
    wait_until(
        lambda: len(recorder.seen) >= CASTS,
        5,
        message=lambda: f"{CASTS} casts processed; got {len(recorder.seen)}",
    )
    assert sorted(recorder.seen) == list(range(CASTS))
