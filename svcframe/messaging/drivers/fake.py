"""FakeDriver: an in-process broker, for testing components without RabbitMQ.

It routes like RabbitMQ does for oslo.messaging's entities: a topic
exchange per control exchange with queues ``<topic>`` and
``<topic>.<server>`` (shared by the servers that declare them, messages
handed out round-robin), a ``<topic>_fanout`` exchange with one queue per
server, and replies keyed by message id.  Every message goes through the
same JSON envelope and failure encoding as on the wire, so what cannot
cross a real broker cannot cross this one either.

All transports of one process whose URLs name the same virtual host
(``fake://``, ``fake:///other``) share one broker.
"""

import collections
import logging
import queue
import sys
import threading
import time
import uuid

from svcframe.messaging import exceptions, wire
from svcframe.messaging.drivers import base

__all__ = ["FakeDriver"]

LOG = logging.getLogger(__name__)

_STOP = object()


class _Queue:
    """A broker queue: messages wait here until a consumer is attached."""

    __slots__ = ("name", "messages", "consumers", "turn")

    def __init__(self, name):
        self.name = name
        self.messages = collections.deque()
        self.consumers = []
        self.turn = 0

    def put(self, item, front=False):
        # Called with the broker lock held.
        if self.consumers:
            consumer = self.consumers[self.turn % len(self.consumers)]
            self.turn += 1
            consumer.put(item)
        elif front:
            self.messages.appendleft(item)
        else:
            self.messages.append(item)


class _Broker:
    """Queues, bindings and reply waiters of one virtual host."""

    def __init__(self):
        self.lock = threading.Lock()
        self.queues = {}
        self.bindings = collections.defaultdict(list)
        self.waiters = {}

    def declare(self, name, exchange, routing_key):
        with self.lock:
            q = self.queues.get(name)
            if q is None:
                q = self.queues[name] = _Queue(name)
            bound = self.bindings[(exchange, routing_key)]
            if q not in bound:
                bound.append(q)
            return q

    def delete(self, q):
        with self.lock:
            self.queues.pop(q.name, None)
            for key, bound in list(self.bindings.items()):
                if q in bound:
                    bound.remove(q)
                if not bound:
                    del self.bindings[key]

    def publish(self, exchange, routing_key, body, expires=None):
        """Hand ``body`` to every queue bound to (exchange, routing_key); how many there were."""
        with self.lock:
            bound = self.bindings.get((exchange, routing_key), ())
            for q in bound:
                q.put((q, body, expires))
            return len(bound)

    def attach(self, q, consumer):
        with self.lock:
            q.consumers.append(consumer)
            while q.messages:
                q.put(q.messages.popleft())

    def detach(self, q, consumer):
        with self.lock:
            if consumer in q.consumers:
                q.consumers.remove(consumer)

    def requeue(self, items):
        with self.lock:
            for item in reversed(items):
                q = item[0]
                if self.queues.get(q.name) is q:
                    q.put(item, front=True)

    def add_waiter(self, msg_id):
        waiter = queue.SimpleQueue()
        with self.lock:
            self.waiters[msg_id] = waiter
        return waiter

    def remove_waiter(self, msg_id):
        with self.lock:
            self.waiters.pop(msg_id, None)

    def reply(self, msg_id, body):
        with self.lock:
            waiter = self.waiters.get(msg_id)
        if waiter is None:
            LOG.debug("No caller waits for a reply to message %s any more; dropped", msg_id)
            return
        waiter.put(body)


_brokers = {}
_brokers_lock = threading.Lock()


def _get_broker(virtual_host):
    with _brokers_lock:
        broker = _brokers.get(virtual_host)
        if broker is None:
            broker = _brokers[virtual_host] = _Broker()
        return broker


class FakeIncomingMessage(base.IncomingMessage):
    """A request received from the in-process broker."""

    def __init__(self, broker, ctxt, message, msg_id, client_timeout):
        super().__init__(ctxt, message, msg_id, client_timeout)
        self._broker = broker

    def reply(self, reply=None, failure=None):
        if self.msg_id is None:
            return
        if failure is not None:
            body = wire.encode(
                wire.build_reply(self.msg_id, failure=wire.serialize_failure(failure))
            )
        else:
            try:
                body = wire.encode(wire.build_reply(self.msg_id, result=reply))
            except (TypeError, ValueError):
                # The caller learns why instead of waiting for its timeout.
                LOG.error(
                    "The result of RPC method %r cannot be sent as JSON",
                    self.message.get("method"),
                    exc_info=True,
                )
                failure = wire.serialize_failure(sys.exc_info())
                body = wire.encode(wire.build_reply(self.msg_id, failure=failure))
        self._broker.reply(self.msg_id, body)

    def heartbeat(self):
        if self.msg_id is not None:
            body = wire.encode(wire.build_reply(self.msg_id, ending=False))
            self._broker.reply(self.msg_id, body)


class FakeListener(base.Listener):
    """Consumes a server's three queues in one thread."""

    def __init__(self, driver, target):
        self._driver = driver
        self._broker = driver.broker
        exchange = target.exchange or driver.default_exchange
        topic, server = target.topic, target.server
        self._queues = [
            self._broker.declare(topic, exchange, topic),
            self._broker.declare(f"{topic}.{server}", exchange, f"{topic}.{server}"),
        ]
        self._fanout = self._broker.declare(
            f"{topic}_fanout_{uuid.uuid4().hex}", f"{topic}_fanout", topic
        )
        self._queues.append(self._fanout)
        self._name = f"fake-listener-{topic}.{server}"
        self._inbox = queue.SimpleQueue()
        self._duplicates = base.DuplicateFilter()
        self._on_message = None
        self._thread = None
        self._stopping = False
        self._lock = threading.Lock()

    def put(self, item):
        self._inbox.put(item)

    def start(self, on_message):
        with self._lock:
            if self._thread is not None:
                return
            self._on_message = on_message
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
            for q in self._queues:
                self._broker.attach(q, self)

    def stop(self):
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            for q in self._queues:
                self._broker.detach(q, self)
            self._stopping = True
            self._inbox.put(_STOP)
        if thread is not threading.current_thread():
            thread.join()
        # What was handed to this consumer but not taken goes back to its
        # queue, for another server (or this one, once restarted).
        leftover = []
        while True:
            try:
                leftover.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        self._broker.requeue([item for item in leftover if item is not _STOP])

    def cleanup(self):
        self.stop()
        self._broker.delete(self._fanout)
        self._driver._forget(self)

    def _run(self):
        while True:
            item = self._inbox.get()
            if self._stopping:
                if item is not _STOP:
                    self._broker.requeue([item])
                return
            _, body, expires = item
            if expires is not None and time.monotonic() > expires:
                LOG.debug("Dropped an expired request on %s", self._name)
                continue
            try:
                self._deliver(body)
            except Exception:
                LOG.exception("Unexpected error while handling a request on %s", self._name)

    def _deliver(self, body):
        try:
            request = wire.parse_request(wire.decode(body))
        except exceptions.UnsupportedEnvelopeVersion as exc:
            LOG.warning("Dropped a request on %s: %s", self._name, exc)
            msg_id, _ = wire.peek_reply_address(body)
            if msg_id is not None:
                FakeIncomingMessage(self._broker, {}, {}, msg_id, None).reply(
                    failure=(type(exc), exc, exc.__traceback__)
                )
            return
        except wire.MalformedMessage as exc:
            LOG.warning("Dropped a request on %s: %s", self._name, exc)
            return
        if self._duplicates.is_duplicate(request.unique_id):
            LOG.warning("Dropped a duplicate of message %s on %s", request.unique_id, self._name)
            return
        incoming = FakeIncomingMessage(
            self._broker, request.ctxt, request.message, request.msg_id, request.client_timeout
        )
        self._on_message(incoming)


class FakeDriver(base.Driver):
    """An in-process transport driver (``fake://``) with real routing and encoding."""

    def __init__(self, conf, url, default_exchange=None, allowed_remote_exmods=None):
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        self.broker = _get_broker(url.virtual_host or "")
        self._reply_q = f"reply_{uuid.uuid4().hex}"
        self._listeners = set()
        self._listeners_lock = threading.Lock()

    def send(
        self,
        target,
        ctxt,
        message,
        wait_for_reply=False,
        timeout=None,
        call_monitor_timeout=None,
        retry=None,
        transport_options=None,
    ):
        if not wait_for_reply:
            body = wire.encode(wire.build_request(message, ctxt))
            if target.fanout:
                delivered = self.broker.publish(f"{target.topic}_fanout", target.topic, body)
            else:
                delivered = self.broker.publish(*self._route(target), body)
            if not delivered:
                LOG.debug("Cast to %s dropped: no queue is bound to it", target)
            return None

        msg_id = uuid.uuid4().hex
        request = wire.build_request(message, ctxt, msg_id, self._reply_q, call_monitor_timeout)
        body = wire.encode(request)
        started = time.monotonic()
        expires = started + timeout if timeout is not None else None
        waiter = self.broker.add_waiter(msg_id)
        try:
            # A call nobody consumes times out, as on RabbitMQ.
            self.broker.publish(*self._route(target), body, expires)
            return self._wait(msg_id, waiter, started, timeout, call_monitor_timeout)
        finally:
            self.broker.remove_waiter(msg_id)

    def _route(self, target):
        exchange = target.exchange or self.default_exchange
        if target.server:
            return exchange, f"{target.topic}.{target.server}"
        return exchange, target.topic

    def _wait(self, msg_id, waiter, started, timeout, call_monitor_timeout):
        deadline = started + timeout if timeout is not None else None
        monitor_deadline = started + call_monitor_timeout if call_monitor_timeout else None
        while True:
            limits = [d for d in (deadline, monitor_deadline) if d is not None]
            remaining = min(limits) - time.monotonic() if limits else None
            if remaining is not None and remaining <= 0:
                self._timeout(msg_id, deadline, monitor_deadline, call_monitor_timeout)
            try:
                body = waiter.get(timeout=remaining)
            except queue.Empty:
                continue
            reply = wire.decode(body)
            if not reply.get("ending"):
                if monitor_deadline is not None:
                    monitor_deadline = time.monotonic() + call_monitor_timeout
                continue
            failure = reply.get("failure")
            if failure:
                raise wire.deserialize_failure(failure, self.allowed_remote_exmods)
            return reply.get("result")

    def _timeout(self, msg_id, deadline, monitor_deadline, call_monitor_timeout):
        if monitor_deadline is not None and (deadline is None or monitor_deadline < deadline):
            raise exceptions.MessagingTimeout(
                f"Timed out waiting for a reply {self._reply_q} to message ID {msg_id}: "
                f"no call-monitor heartbeat in {call_monitor_timeout} s"
            )
        raise exceptions.MessagingTimeout(
            f"Timed out waiting for a reply {self._reply_q} to message ID {msg_id}."
        )

    def listen(self, target):
        listener = FakeListener(self, target)
        with self._listeners_lock:
            self._listeners.add(listener)
        return listener

    def _forget(self, listener):
        with self._listeners_lock:
            self._listeners.discard(listener)

    def cleanup(self):
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener.cleanup()
