"""Waiting for call replies: one reply queue and one consuming thread per process.

A caller registers its ``_msg_id``, publishes, and blocks on its own
condition variable with the exact time left, so a call times out when it
should (not on the next poll).  Call-monitor heartbeats (``ending:
false``, no result) restart the caller's monitor timer.
"""

import collections
import logging
import threading
import time

import amqp
import kombu

from svcframe.messaging import exceptions, wire
from svcframe.messaging.drivers import kombu_payload
from svcframe.messaging.drivers.kombu_connection import ConsumerThread

__all__ = ["ReplyWaiter"]

LOG = logging.getLogger(__name__)


class _PendingCall:
    __slots__ = ("cond", "replies", "error")

    def __init__(self):
        self.cond = threading.Condition(threading.Lock())
        self.replies = collections.deque()
        self.error = None


class _ReplyConsumer(ConsumerThread):
    def __init__(self, waiter):
        super().__init__(waiter.driver, f"reply-consumer {waiter.queue_name}")
        self.waiter = waiter

    def declare(self, conn, channel):
        queue = self.driver.reply_queue(self.waiter.queue_name)
        if isinstance(channel, amqp.Channel):
            # Raw deliveries: kombu would decompress a body without limit.
            queue(channel).declare()
            return [_RawReplyConsumer(channel, queue, self.waiter.on_raw_message)]
        consumer = kombu.Consumer(
            channel,
            queues=[queue],
            on_message=self.waiter.on_message,
            on_decode_error=self.waiter.on_decode_error,
            no_ack=True,
        )
        consumer.consume()
        return [consumer]


class _RawReplyConsumer:
    def __init__(self, channel, queue, callback):
        self.channel = channel
        self.tag = channel.basic_consume(
            queue=queue.name,
            callback=callback,
            no_ack=True,
            arguments=queue.consumer_arguments,
        )

    def cancel(self):
        self.channel.basic_cancel(self.tag)


class ReplyWaiter:
    """Routes replies arriving on this process's reply queue to the waiting callers."""

    def __init__(self, driver):
        self.driver = driver
        self.queue_name = driver.reply_queue_name()
        self._pending = {}
        self._lock = threading.Lock()
        self._consumer = None

    def ensure_started(self, deadline):
        """Declare the reply queue and start consuming, once; before the first call is sent."""
        consumer = self._consumer
        if consumer is None:
            with self._lock:
                if self._consumer is None:
                    self._consumer = _ReplyConsumer(self)
                    self._consumer.start()
                consumer = self._consumer
        if not consumer.ready.is_set():
            if not consumer.ready.wait(max(0.0, deadline - time.monotonic())):
                raise exceptions.MessagingTimeout(
                    f"Timed out connecting to the broker at {self.driver.safe_url} "
                    "to declare the reply queue"
                )
        if consumer.failed is not None:
            raise consumer.failed

    def register(self, msg_id):
        pending = _PendingCall()
        self._pending[msg_id] = pending
        return pending

    def is_waiting(self, msg_id):
        """Whether a caller still waits for the reply to ``msg_id``."""
        return msg_id in self._pending

    def unregister(self, msg_id):
        self._pending.pop(msg_id, None)

    def fail(self, msg_id, exc):
        """Wake the caller of ``msg_id`` with ``exc`` (e.g. the call could not be routed)."""
        pending = self._pending.get(msg_id)
        if pending is not None:
            with pending.cond:
                pending.error = exc
                pending.cond.notify()

    def on_raw_message(self, message):
        properties = message.properties
        self._on_body(
            message.body, properties.get("application_headers"), properties.get("content_type")
        )

    def on_message(self, message):
        self._on_body(message.body, None, None)

    def on_decode_error(self, message, exc):
        LOG.warning("Dropped an unreadable reply on %s: %s", self.queue_name, str(exc)[:300])

    def _on_body(self, body, headers, content_type):
        try:
            body = kombu_payload.read_body(body, headers, content_type)
            reply = wire.decode(body)
            msg_id = reply.get("_msg_id")
            pending = self._pending.get(msg_id) if isinstance(msg_id, str) else None
        except Exception as exc:  # noqa: BLE001 - RecursionError, MemoryError included
            LOG.warning("Dropped an unreadable reply on %s: %s", self.queue_name, str(exc)[:300])
            return
        if pending is None:
            LOG.debug("Dropped a reply to message %.100r: nobody waits for it", msg_id)
            return
        with pending.cond:
            pending.replies.append(reply)
            pending.cond.notify()

    def wait(self, msg_id, pending, deadline, timeout, call_monitor_timeout):
        """The result of call ``msg_id``, or raise its failure or MessagingTimeout.

        ``deadline`` (monotonic) ends the wait; ``timeout`` is the call's
        timeout as the caller gave it, for the error message.
        """
        now = time.monotonic()
        monitor_deadline = now + call_monitor_timeout if call_monitor_timeout else None
        allowed = self.driver.allowed_remote_exmods
        with pending.cond:
            while True:
                while pending.replies:
                    reply = pending.replies.popleft()
                    if reply.get("failure"):
                        raise wire.deserialize_failure(reply["failure"], allowed)
                    if reply.get("ending"):
                        return reply.get("result")
                    if monitor_deadline is not None:
                        # A heartbeat from the server: the method is still running.
                        monitor_deadline = time.monotonic() + call_monitor_timeout
                if pending.error is not None:
                    raise pending.error
                now = time.monotonic()
                limit = deadline if monitor_deadline is None else min(deadline, monitor_deadline)
                if now >= limit:
                    if monitor_deadline is not None and monitor_deadline <= deadline:
                        raise exceptions.MessagingTimeout(
                            f"Timed out waiting for a reply to message ID {msg_id}: no heartbeat "
                            f"from the server for {call_monitor_timeout} s (call monitor)"
                        )
                    raise exceptions.MessagingTimeout(
                        f"Timed out waiting for a reply to message ID {msg_id} "
                        f"after {timeout} s (reply queue {self.queue_name})"
                    )
                pending.cond.wait(limit - now)

    def stop(self):
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.stop(timeout=2.0)
            consumer.close()

    def abandon(self):
        """Forget the consumer without touching its connection (it belongs to the parent)."""
        self._consumer = None
