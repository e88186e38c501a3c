"""Notifications over a kombu driver, as oslo.messaging's rabbit driver sends and reads them.

Sending: a notification goes to the topic exchange (``control_exchange``
unless the target names one) with routing key ``<topic>.<priority>``,
after declaring a queue of that name bound to it, once per driver: a
notification sent before any listener exists waits there, as with
oslo.messaging.  ``messagingv2`` wraps the message in the 2.0 envelope,
``messaging`` sends it bare (format 1.0).

Listening: one queue per (target, priority), named ``<topic>.<priority>``
or, with a pool, the pool's name (every listener of a pool shares one
queue).  An exclusive listener gets a copy of everything on queues of its
own that the broker deletes with its connection.  A notification is acked,
or requeued, once handled, from the consumer's own thread.
"""

import json
import logging
import threading

import kombu

from svcframe.messaging import _wire as wire
from svcframe.messaging.drivers.kombu.connection import (
    ConsumerThread,
    connect,
    start_kombu_consumers,
)
from svcframe.messaging.drivers.kombu.outgoing import Outgoing

__all__ = ["KombuNotificationListener", "NotificationSender"]

LOG = logging.getLogger(__name__)


def encode_notification(message, ctxt, version):
    """The AMQP body: oslo.messaging's keys and order, enveloped for version 2.0."""
    msg = wire.build_request(message, ctxt)
    if version == 2.0:
        return wire.encode(msg)
    return json.dumps(msg, default=str)


class NotificationSender:
    """Publishes notifications for one driver, declaring each default queue once."""

    def __init__(self, driver):
        self.driver = driver
        self._declared = set()
        self._lock = threading.Lock()

    def send(self, target, ctxt, message, version, retry=None):
        driver = self.driver
        exchange = driver.topic_exchange(target.exchange or driver.default_exchange)
        routing_key = target.topic
        self._declare_default_queue(exchange, routing_key, retry)
        body = encode_notification(message, ctxt, version)
        outgoing = Outgoing(
            exchange=exchange,
            routing_key=routing_key,
            body=body,
            mandatory=False,
            kind="notification",
        )
        driver._get_publisher().publish(outgoing, retry=retry)

    def _declare_default_queue(self, exchange, routing_key, retry):
        key = (exchange.name, routing_key)
        if key in self._declared:
            return
        with self._lock:
            if key in self._declared:
                return
            conn = connect(self.driver, "Notifier", retry=retry)
            try:
                self.driver.topic_queue(routing_key, exchange)(conn.default_channel).declare()
            finally:
                conn.release()
            self._declared.add(key)


class NotificationIncoming:
    """A received notification: ``ctxt`` and ``message`` dicts, acked or requeued once."""

    def __init__(self, consumer, raw, ctxt, message):
        self._consumer = consumer
        self._raw = raw
        self.ctxt = ctxt
        self.message = message

    def acknowledge(self):
        self._consumer.call_soon(lambda: self._settle("ack"))

    def requeue(self):
        self._consumer.call_soon(lambda: self._settle("requeue"))

    def _settle(self, how):
        try:
            if how == "ack":
                self._raw.ack()
            else:
                self._raw.requeue()
        except Exception as exc:  # noqa: BLE001 - the channel is gone: the broker redelivers
            LOG.warning("Could not %s a notification: %s", how, exc)


class _NotificationConsumer(ConsumerThread):
    def __init__(self, listener):
        super().__init__(listener.driver, "notification-listener")
        self.listener = listener

    def declare(self, conn, channel):
        return self.listener.declare(channel)


class KombuNotificationListener:
    """Consumes the queues of (target, priority) pairs, or of a pool."""

    def __init__(self, driver, targets_and_priorities, pool=None, exclusive=False):
        self.driver = driver
        self.exclusive = exclusive
        self.targets_and_priorities = sorted(
            targets_and_priorities, key=lambda tp: (tp[0].exchange or "", tp[0].topic, tp[1])
        )
        self.pool = pool
        self._on_message = None
        self._thread = None

    def declare(self, channel):
        driver = self.driver
        if driver.prefetch_count:
            channel.basic_qos(0, driver.prefetch_count, False)
        queues = []
        for target, priority in self.targets_and_priorities:
            exchange = driver.topic_exchange(target.exchange or driver.default_exchange)
            routing_key = f"{target.topic}.{priority}"
            if self.exclusive:
                # A copy of every notification, on a queue that goes with the connection.
                queues.append(
                    kombu.Queue(
                        f"{self.pool or 'notifications-tail'}.{routing_key}",
                        exchange,
                        routing_key=routing_key,
                        exclusive=True,
                        auto_delete=True,
                        durable=False,
                    )
                )
            else:
                queues.append(driver.topic_queue(self.pool or routing_key, exchange, routing_key))
        return start_kombu_consumers(driver, channel, queues, self._receive)

    def start(self, on_message):
        if self._thread is not None:
            return
        self._on_message = on_message
        self._thread = _NotificationConsumer(self)
        self._thread.start_and_wait(self.driver.start_timeout)

    def stop(self):
        if self._thread is not None:
            self._thread.stop()

    def cleanup(self):
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.stop()
            thread.close()

    def _receive(self, raw):
        try:
            inner = wire.decode(raw.body)
        except Exception as exc:  # noqa: BLE001 - unreadable: one line, then drop it
            LOG.warning("Dropped an unreadable notification: %s", exc)
            raw.ack()
            return
        request = wire.parse_request(inner)
        request.ctxt.pop("client_timeout", None)
        self._on_message(NotificationIncoming(self._thread, raw, request.ctxt, request.message))
