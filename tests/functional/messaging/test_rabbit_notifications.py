"""Notifications over the real RabbitMQ: pools, requeue, exclusive listeners, batches."""

import queue
import threading

import pytest
from conftest import RABBIT_URL, new_conf, unique

from svcframe import messaging
from svcframe.testing import wait_until

pytestmark = pytest.mark.rabbit


class Collector:
    """A listener endpoint keeping what it got; REQUEUEs the first ``requeue_first`` times."""

    def __init__(self, requeue_first=0):
        self.events = queue.Queue()
        self.requeue_left = requeue_first
        self._lock = threading.Lock()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self._lock:
            if self.requeue_left:
                self.requeue_left -= 1
                return messaging.NotificationResult.REQUEUE
        self.events.put((publisher_id, event_type, payload, ctxt))
        return None

    def drain(self):
        got = []
        while not self.events.empty():
            got.append(self.events.get_nowait())
        return got


@pytest.fixture
def notify(rabbit_admin):
    """Builds transports, notifiers and started listeners; stops them and deletes their queues."""
    conf = new_conf()
    topic = unique("notif")
    made = {"transports": [], "listeners": [], "queues": {f"{topic}.info"}}

    class Harness:
        def transport(self):
            transport = messaging.get_notification_transport(conf, RABBIT_URL)
            made["transports"].append(transport)
            return transport

        def notifier(self, publisher="pub"):
            return messaging.Notifier(
                self.transport(), publisher, driver="messagingv2", topics=[topic]
            )

        def listener(self, endpoint, pool=None, **kwargs):
            listener = messaging.get_notification_listener(
                self.transport(), [messaging.Target(topic=topic)], [endpoint], pool=pool, **kwargs
            )
            if pool:
                made["queues"].add(pool)
            listener.start()
            made["listeners"].append(listener)
            return listener

    harness = Harness()
    harness.topic = topic
    yield harness
    for listener in made["listeners"]:
        listener.stop()
        listener.wait()
    for transport in made["transports"]:
        transport.cleanup()
    for name in made["queues"]:
        rabbit_admin.delete_queue(name)


def test_a_notification_sent_before_any_listener_waits_in_its_queue(notify):
    notify.notifier("early").info({}, "e.before", {"n": 1})
    collector = Collector()
    notify.listener(collector)
    assert collector.events.get(timeout=10)[:3] == ("early", "e.before", {"n": 1})


def test_listeners_of_a_pool_share_and_pools_each_get_everything(notify):
    pool_a = [Collector(), Collector()]
    pool_b = Collector()
    for collector in pool_a:
        notify.listener(collector, pool=notify.topic + "-a")
    notify.listener(pool_b, pool=notify.topic + "-b")
    notifier = notify.notifier()

    sent = [f"e{i}" for i in range(20)]
    for event_type in sent:
        notifier.info({}, event_type, None)

    wait_until(lambda: pool_b.events.qsize() == len(sent), 10, message="pool b got all")
    wait_until(
        lambda: sum(c.events.qsize() for c in pool_a) == len(sent), 10, message="pool a got all"
    )
    received_a = [e[1] for c in pool_a for e in c.drain()]
    assert sorted(received_a) == sorted(sent)
    assert all(received_a.count(e) == 1 for e in sent)


def test_requeue_gives_the_notification_back_when_allowed(notify):
    collector = Collector(requeue_first=2)
    notify.listener(collector, allow_requeue=True)
    notify.notifier().info({}, "retried", {"k": "v"})
    assert collector.events.get(timeout=10)[1:3] == ("retried", {"k": "v"})
    assert collector.requeue_left == 0


def test_an_exclusive_listener_takes_nothing_from_the_others(notify):
    shared, tail = Collector(), Collector()
    notify.listener(shared)
    notify.listener(tail, pool=notify.topic + "-tail", exclusive=True)
    notifier = notify.notifier()
    for i in range(5):
        notifier.info({}, f"e{i}", None)

    wait_until(lambda: shared.events.qsize() == 5 and tail.events.qsize() == 5, 10, message="both")
    assert [e[1] for e in shared.drain()] == [e[1] for e in tail.drain()]


def test_batches_are_cut_by_size_then_by_timeout(notify):
    class BatchCollector:
        def __init__(self):
            self.batches = queue.Queue()

        def info(self, messages):
            self.batches.put([m["event_type"] for m in messages])

    collector = BatchCollector()
    listener = messaging.get_batch_notification_listener(
        notify.transport(),
        [messaging.Target(topic=notify.topic)],
        [collector],
        batch_size=4,
        batch_timeout=1,
    )
    listener.start()
    try:
        notifier = notify.notifier()
        for i in range(6):
            notifier.info({}, f"e{i}", None)
        first = collector.batches.get(timeout=10)
        second = collector.batches.get(timeout=10)
    finally:
        listener.stop()
        listener.wait()
    assert (len(first), len(second)) == (4, 2)
    assert sorted(first + second) == [f"e{i}" for i in range(6)]
