"""Waiting for call replies: one reply queue and one consuming thread per process.

A caller registers its ``_msg_id``, publishes, and blocks on its own
condition variable with the exact time left, so a call times out when it
should (not on the next poll).  Call-monitor heartbeats (``ending:
false``, no result) restart the caller's monitor timer.

On RabbitMQ and on the embedded transport the callers read the reply
connection themselves while any of them waits (leader/follower): one
caller at a time, the leader, reads and hands the other callers their
replies; its own reply needs no hand-off between threads, which was the
largest cost of a sequential call.  The consuming thread keeps the
connection (heartbeats, reconnects) and reads only when no caller waits,
or when the callers cannot.
"""

import collections
import logging
import threading
import time

import amqp
import kombu

from svcframe.messaging import _wire as wire
from svcframe.messaging import exceptions
from svcframe.messaging.drivers.kombu import frames
from svcframe.messaging.drivers.kombu import payload as kombu_payload
from svcframe.messaging.drivers.kombu.connection import (
    ConsumerThread,
    amqp_connection,
    connection_errors,
)

__all__ = ["ReplyWaiter"]

LOG = logging.getLogger(__name__)


# How long a leader reads before it looks at its deadline again, and a
# follower waits before it tries to lead (should a hand-over be missed).
LEADER_READ_SECONDS = 0.05
FOLLOWER_WAIT_SECONDS = 0.05
# How long the consuming thread stays out of the callers' way at a time.
STAND_BY_SECONDS = 0.2


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

    def on_connected(self):
        self.waiter.connected(self.conn)

    def interrupt(self):
        self.waiter.stand_by_over.set()
        super().interrupt()

    def _drain_once(self, conn, errors):
        waiter = self.waiter
        if waiter.callers_read():
            # Callers are waiting and read for themselves: keep out of their
            # way (the loop still checks heartbeats between stand-bys).
            waiter.stand_by_over.wait(STAND_BY_SECONDS)
            waiter.stand_by_over.clear()
            return True
        with waiter.reader:
            ok = super()._drain_once(conn, errors)
        if not ok:
            waiter.connected(None)
        # Callers that came while this thread read may lead from now on.
        waiter.hand_over()
        return ok


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
        # Whoever reads the reply connection holds this: a caller (the
        # leader) or the consuming thread.
        self.reader = threading.Lock()
        self.stand_by_over = threading.Event()
        self._raw = None  # the amqp connection callers may read, while it works
        self._errors = ()

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
            # The next call tries again (the broker may be back, the disk
            # freed) instead of failing for the life of the process.
            with self._lock:
                if self._consumer is consumer:
                    self._consumer = None
            raise consumer.failed

    # -- leader/follower -------------------------------------------------------

    def connected(self, conn):
        """The consuming thread's connection (None: lost): callers read it while it works."""
        raw = amqp_connection(conn)
        if raw is None and conn is not None and self.driver.callers_read_replies:
            # Another transport's drain is kombu's, when callers may read it.
            raw = conn
        if raw is not None:
            self._errors = connection_errors(conn)
            self._raw = raw
            # Callers that waited for the reconnect may lead again.
            self.hand_over()
        else:
            self._raw = None

    def callers_read(self):
        """Whether callers wait and can read their replies themselves."""
        return self._raw is not None and bool(self._pending)

    def hand_over(self, exclude=None):
        """Wake a waiting caller (not ``exclude``) to lead, unless one already does."""
        if self._raw is None or self.reader.locked():
            return
        for msg_id, pending in list(self._pending.items()):
            if msg_id != exclude:
                with pending.cond:
                    pending.cond.notify()
                return

    def _lead(self, seconds):
        """Read one reply (or wait ``seconds`` for one) as the leader; holds ``reader``."""
        raw = self._raw
        if raw is None:
            return
        try:
            frames.drain(raw, timeout=seconds)
        except TimeoutError:
            pass
        except self._errors as exc:
            # The consuming thread reconnects: until then it reads, not us.
            LOG.debug("Reply connection lost while a caller read it: %s", exc)
            self._raw = None
            self.stand_by_over.set()
        except Exception:  # noqa: BLE001 - a bug in a callback must not fail the call
            LOG.exception("Error while reading replies on %s", self.queue_name)

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
        try:
            return self._wait(msg_id, pending, deadline, timeout, call_monitor_timeout)
        finally:
            if len(self._pending) > 1:
                # We may have led: the next caller takes over.
                self.hand_over(exclude=msg_id)

    def _wait(self, msg_id, pending, deadline, timeout, call_monitor_timeout):
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
                if now < limit and self._raw is not None and self.reader.acquire(blocking=False):
                    # Lead: read the connection ourselves, without our lock
                    # (the reply we read may be ours).
                    pending.cond.release()
                    try:
                        self._lead(min(limit - now, LEADER_READ_SECONDS))
                    finally:
                        self.reader.release()
                        pending.cond.acquire()
                    continue
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
                if self._raw is not None:
                    # A follower: the leader hands us our reply, or the lead.
                    pending.cond.wait(min(limit - now, FOLLOWER_WAIT_SECONDS))
                else:
                    pending.cond.wait(limit - now)

    def stop(self):
        self._raw = None
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.stop(timeout=2.0)
            consumer.close()

    def abandon(self):
        """Forget the consumer without touching its connection (it belongs to the parent)."""
        self._raw = None
        self._consumer = None
