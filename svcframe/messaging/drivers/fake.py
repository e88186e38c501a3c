"""The fake driver: the kombu driver over an in-process broker, for testing components.

``fake://`` runs the same code as ``rabbit://`` and ``embedded://`` (the
kombu driver: its publisher, listener, reply waiter, decode, errors and
call monitor); only the broker differs: kombu's virtual transport over
queues in memory, one broker per virtual host (``fake://``,
``fake:///other``), shared by every transport of the process that names
it.  It behaves as the embedded transport does as a broker: a call that no
live consumer would receive fails at once, a cast that no queue is bound
to is logged and dropped, expired call requests are dropped unprocessed,
unacked messages go back to their queue, and exclusive (reply and fanout)
queues go with the connection that declared them.
"""

import collections
import itertools
import logging
import threading
import time

import kombu
from kombu.transport import virtual
from kombu.transport.virtual import Empty

from svcframe.messaging.drivers.brokerless import (
    BrokerlessChannel,
    BrokerlessDriver,
    BrokerlessTransport,
)
from svcframe.messaging.drivers.kombu.connection import ReconnectBackoff

__all__ = ["FakeDriver"]

LOG = logging.getLogger(__name__)


class _Broker:
    """The queues and bindings of one virtual host."""

    def __init__(self, name):
        self.name = name
        self.state = virtual.BrokerState()
        self.queues = {}  # name -> deque of payloads
        self.consumers = collections.Counter()  # queue -> consumers attached
        self.cond = threading.Condition()
        self.generation = 0  # bumped on every put: a waiter never misses one

    def put(self, queue, payload, front=False):
        with self.cond:
            q = self.queues.get(queue)
            if q is None:
                return False
            if front:
                q.appendleft(payload)
            else:
                q.append(payload)
            self.generation += 1
            self.cond.notify_all()
            return True

    def delete(self, queue):
        """Delete ``queue`` and every binding to it."""
        with self.cond:
            self.queues.pop(queue, None)
            for exchange in self.state.exchanges.values():
                table = exchange.get("table")
                if table:
                    table[:] = [meta for meta in table if meta[2] != queue]
        self.state.queue_bindings_delete(queue)


_brokers = {}
_brokers_lock = threading.Lock()


def _get_broker(virtual_host):
    with _brokers_lock:
        broker = _brokers.get(virtual_host)
        if broker is None:
            broker = _brokers[virtual_host] = _Broker(virtual_host)
        return broker


def _copy(message):
    # Each queue gets its own dict: a receive writes its delivery tag into it.
    properties = dict(message["properties"])
    properties["delivery_info"] = dict(properties.get("delivery_info") or {})
    return dict(message, properties=properties)


class _Channel(BrokerlessChannel):
    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        self.broker = connection.broker
        self._unacked = {}  # delivery tag -> (queue, payload)
        self._tags = itertools.count(1)
        self._consumed = collections.Counter()

    def location(self):
        return f"fake transport, virtual host {self.broker.name!r}"

    # -- queues -------------------------------------------------------------

    def _new_queue(self, queue, exclusive=False, **kwargs):
        with self.broker.cond:
            self.broker.queues.setdefault(queue, collections.deque())
        if exclusive:
            self.connection.exclusive_queues.add(queue)

    def _has_queue(self, queue, **kwargs):
        return queue in self.broker.queues

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        pass  # the bindings are in the broker's state (shared), nothing else to keep

    def _delete(self, queue, *args, **kwargs):
        self.broker.delete(queue)

    def _purge(self, queue):
        with self.broker.cond:
            q = self.broker.queues.get(queue)
            size = len(q) if q else 0
            if q:
                q.clear()
        return size

    def _size(self, queue):
        return len(self.broker.queues.get(queue) or ())

    # -- publishing ---------------------------------------------------------

    def basic_publish(self, message, exchange, routing_key, mandatory=False, **kwargs):
        self._inplace_augment_message(message, exchange, routing_key)
        expiration = message["properties"].get("expiration")
        if expiration:
            message["expires_at"] = time.monotonic() + int(expiration) / 1000.0
        if not exchange:
            if not self.broker.put(routing_key, _copy(message)):
                LOG.debug("Dropped a message to %s: the queue is gone", routing_key)
                return 0
            return 1
        queues = self._lookup(exchange, routing_key)
        if expiration and not any(self.broker.consumers[q] for q in queues):
            raise self.unroutable_call(routing_key, exchange)
        delivered = sum(1 for q in queues if self.broker.put(q, _copy(message)))
        if not delivered and mandatory:
            self.dropped_unbound(routing_key, exchange)
        return delivered  # how many queues got it (0: what RabbitMQ returns)

    def _put(self, queue, message, **kwargs):
        self.broker.put(queue, _copy(message))

    def _put_fanout(self, exchange, message, routing_key, **kwargs):
        for queue in self._lookup(exchange, routing_key):
            self._put(queue, message)

    # -- consuming ----------------------------------------------------------

    def basic_consume(self, queue, no_ack, callback, consumer_tag, **kwargs):
        self._new_queue(queue)
        super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)
        with self.broker.cond:
            self.broker.consumers[queue] += 1
        self._consumed[consumer_tag] = queue

    def basic_cancel(self, consumer_tag):
        queue = self._consumed.pop(consumer_tag, None)
        if queue is not None:
            with self.broker.cond:
                self.broker.consumers[queue] -= 1
                if self.broker.consumers[queue] <= 0:
                    del self.broker.consumers[queue]
        super().basic_cancel(consumer_tag)

    def _get(self, queue):
        broker = self.broker
        while True:
            with broker.cond:
                q = broker.queues.get(queue)
                if not q:
                    raise Empty()
                payload = q.popleft()
            expires_at = payload.pop("expires_at", None)
            if expires_at is not None and time.monotonic() > expires_at:
                LOG.info("Dropped an expired call request on %s", queue)
                continue
            tag = next(self._tags)
            payload["properties"]["delivery_tag"] = tag
            self._unacked[tag] = (queue, payload)
            return payload

    def basic_ack(self, delivery_tag, multiple=False):
        super().basic_ack(delivery_tag, multiple=multiple)
        self._unacked.pop(delivery_tag, None)

    def basic_reject(self, delivery_tag, requeue=False):
        super().basic_reject(delivery_tag, requeue=requeue)
        self._unacked.pop(delivery_tag, None)

    def _restore(self, message):
        # Back to the front of its own queue (kombu would route a copy again).
        entry = self._unacked.pop(message.delivery_tag, None)
        if entry is not None:
            queue, payload = entry
            self.broker.put(queue, payload, front=True)

    def _forget_consumers(self):
        for tag in list(self._consumed):
            self.basic_cancel(tag)

    def _release_unacked(self):
        for queue, payload in reversed(list(self._unacked.values())):
            self.broker.put(queue, payload, front=True)
        self._unacked.clear()


class _Transport(BrokerlessTransport):
    Channel = _Channel
    driver_type = "fake"
    driver_name = "fake"

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        self.broker = _get_broker(client.transport_options["virtual_host"])
        self.state = self.broker.state
        self._interrupted = False

    def drain_events(self, connection, timeout=None):
        broker = self.broker
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            generation = broker.generation
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                pass
            with broker.cond:
                if self._interrupted:
                    self._interrupted = False
                    raise TimeoutError()  # the consumer is stopping
                if broker.generation == generation:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError()
                    broker.cond.wait(left)

    def interrupt(self):
        """End a drain_events() blocked in another thread (it raises a timeout)."""
        with self.broker.cond:
            self._interrupted = True
            self.broker.cond.notify_all()

    def delete_queue(self, queue):
        self.broker.delete(queue)


class FakeDriver(BrokerlessDriver):
    """An in-process transport driver (``fake://``): the kombu driver over memory queues."""

    def __init__(self, conf, url, default_exchange=None, allowed_remote_exmods=None):
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        self.virtual_host = getattr(url, "virtual_host", None) or ""
        self.safe_url = f"fake:///{self.virtual_host}"

    def make_connection(self):
        return kombu.Connection(
            transport=_Transport, transport_options={"virtual_host": self.virtual_host}
        )

    def new_backoff(self):
        return ReconnectBackoff(0.05, 0.1, 1.0)
