"""What the RabbitMQ and embedded drivers share: sending, replying and listening over kombu.

Subclasses provide the connection (``make_connection``) and the entities
(exchanges and queues with their flags); this class moves messages:

* ``send``: one publisher per process; a call registers with the reply
  waiter before publishing and never waits past its timeout, including
  the time spent (re)connecting.
* ``listen``: a KombuListener on the target's three consumers.
* ``send_reply``: replies and call-monitor heartbeats, through the same
  publisher.
"""

import logging
import threading
import time
import uuid

from svcframe.messaging import _wire as wire
from svcframe.messaging import exceptions
from svcframe.messaging.drivers import base
from svcframe.messaging.drivers.kombu.connection import ReconnectBackoff
from svcframe.messaging.drivers.kombu.listener import KombuListener
from svcframe.messaging.drivers.kombu.notify import KombuNotificationListener, NotificationSender
from svcframe.messaging.drivers.kombu.outgoing import Outgoing, Settlement
from svcframe.messaging.drivers.kombu.publisher import Publisher
from svcframe.messaging.drivers.kombu.reply import ReplyWaiter

__all__ = ["KombuDriver"]

LOG = logging.getLogger(__name__)

# Parent-process connections are kept referenced after a fork so that
# garbage collection never closes them from the child.
_ABANDONED = []


class KombuDriver(base.Driver):
    """A driver over a kombu transport; see RabbitDriver and EmbeddedDriver."""

    supports_confirms = False
    heartbeat_rate = 2
    heartbeat_check_interval = 0
    prefetch_count = 0
    missing_consumer_retry_timeout = 60
    start_timeout = 30.0
    # How long a consumer's drain may block; it bounds how fast a stop is
    # noticed and heartbeats are sent, unless the transport can interrupt it.
    drain_timeout = 0.2
    # Whether the transport can end a blocked drain from another thread
    # (ConsumerThread.interrupt); if not, consumers poll for settlements.
    interruptible = False
    # With interruptible: whether an ack wakes a busy consumer thread at once
    # (False: it goes with the thread's next wake, at most ACK_HOLD_SECONDS on).
    acks_wake_consumer = True
    # Whether callers may read the reply connection themselves (leader/
    # follower, see kombu.reply) on a transport other than amqp's.
    callers_read_replies = False

    def __init__(self, conf, url, default_exchange=None, allowed_remote_exmods=None):
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        self.safe_url = str(url)
        self._lock = threading.Lock()
        self._publisher = None
        self._reply_waiter = None
        self._notification_sender = None

    # -- what subclasses provide --------------------------------------------

    def make_connection(self):
        """A new, unconnected kombu Connection."""
        raise NotImplementedError

    def new_backoff(self):
        return ReconnectBackoff(1.0, 2.0, 30.0)

    def topic_exchange(self, name):
        raise NotImplementedError

    def fanout_exchange(self, topic):
        raise NotImplementedError

    def topic_queue(self, name, exchange, routing_key=None):
        raise NotImplementedError

    def fanout_queue(self, name, topic):
        raise NotImplementedError

    def reply_queue(self, name):
        raise NotImplementedError

    def new_publisher(self):
        """The process's publisher (see kombu.publisher)."""
        return Publisher(self, self._undeliverable_call)

    def reply_queue_name(self):
        return f"reply_{uuid.uuid4().hex}"

    def fanout_queue_name(self, topic):
        return f"{topic}_fanout_{uuid.uuid4().hex}"

    def consumer_options(self):
        return {}

    # -- Driver -------------------------------------------------------------

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
        self._forget_parent_connections()
        at_least_once = bool(transport_options and transport_options.at_least_once)
        publisher = self._get_publisher()
        if target.fanout:
            exchange, routing_key, kind = self.fanout_exchange(target.topic), target.topic, "fanout"
        else:
            exchange = self.topic_exchange(target.exchange or self.default_exchange)
            routing_key = f"{target.topic}.{target.server}" if target.server else target.topic
            kind = "call" if wait_for_reply else "cast"
        if not wait_for_reply:
            msg = wire.build_request(message, ctxt)
            settled = Settlement() if at_least_once else None
            outgoing = Outgoing(
                exchange=exchange,
                routing_key=routing_key,
                body=wire.encode(msg),
                mandatory=True,
                kind=kind,
                settled=settled,
            )
            publisher.publish(outgoing, retry=retry)
            if settled is not None:
                self._wait_settled(outgoing)
            return None

        if timeout is None:
            timeout = self.conf.rpc_response_timeout
        deadline = time.monotonic() + timeout
        waiter = self._get_reply_waiter()
        waiter.ensure_started(deadline)
        msg_id = uuid.uuid4().hex
        msg = wire.build_request(message, ctxt, msg_id, waiter.queue_name, call_monitor_timeout)
        outgoing = Outgoing(
            exchange=exchange,
            routing_key=routing_key,
            body=wire.encode(msg),
            mandatory=True,
            expiration=timeout,
            kind=kind,
            msg_id=msg_id,
        )
        pending = waiter.register(msg_id)
        try:
            try:
                publisher.publish(outgoing, retry=retry, deadline=deadline)
            except exceptions.TransportUnavailable as exc:
                raise exceptions.MessagingTimeout(
                    f"Timed out sending message ID {msg_id} to {routing_key!r}: {exc}"
                )
            return waiter.wait(msg_id, pending, deadline, timeout, call_monitor_timeout)
        except exceptions.UnroutableCall as exc:
            if not at_least_once:
                raise
            raise exceptions.MessageUndeliverable(
                exc, outgoing.exchange_name, routing_key, msg
            ) from None
        finally:
            waiter.unregister(msg_id)

    def _wait_settled(self, outgoing):
        """Block until the broker confirms or returns an at-least-once cast."""
        settled = outgoing.settled
        if not settled.wait(self.conf.rpc_response_timeout):
            raise exceptions.MessageDeliveryFailure(
                f"The broker did not confirm the cast to {outgoing.routing_key!r} "
                f"within {self.conf.rpc_response_timeout} s"
            )
        if settled.returned is not None:
            exchange, routing_key, reason = settled.returned
            raise exceptions.MessageUndeliverable(reason, exchange, routing_key, outgoing.body)

    def listen(self, target):
        self._forget_parent_connections()
        return KombuListener(self, target)

    def send_notification(self, target, ctxt, message, version, retry=None):
        self._forget_parent_connections()
        with self._lock:
            if self._notification_sender is None:
                self._notification_sender = NotificationSender(self)
        self._notification_sender.send(target, ctxt, message, version, retry=retry)

    def listen_for_notifications(self, targets_and_priorities, pool=None, exclusive=False):
        self._forget_parent_connections()
        return KombuNotificationListener(self, targets_and_priorities, pool, exclusive)

    def send_reply(self, reply_q, body, msg_id):
        outgoing = Outgoing(
            exchange="",
            routing_key=reply_q,
            body=body,
            mandatory=self.reply_mandatory,
            kind="reply",
            msg_id=msg_id,
        )
        try:
            self._get_publisher().publish(outgoing, retry=self.reply_retry)
        except exceptions.MessagingException as exc:
            LOG.error("Could not send the reply to message %s on %s: %s", msg_id, reply_q, exc)

    reply_mandatory = True
    reply_retry = None

    def cleanup(self):
        with self._lock:
            publisher, self._publisher = self._publisher, None
            waiter, self._reply_waiter = self._reply_waiter, None
        if waiter is not None:
            waiter.stop()
        if publisher is not None:
            publisher.close()

    # -- internals ----------------------------------------------------------

    def _get_publisher(self):
        publisher = self._publisher
        if publisher is None:
            with self._lock:
                if self._publisher is None:
                    self._publisher = self.new_publisher()
                publisher = self._publisher
        return publisher

    def _get_reply_waiter(self):
        waiter = self._reply_waiter
        if waiter is None:
            with self._lock:
                if self._reply_waiter is None:
                    self._reply_waiter = ReplyWaiter(self)
                waiter = self._reply_waiter
        return waiter

    def call_waited_for(self, msg_id):
        """Whether a caller of this process still waits for the reply to call ``msg_id``."""
        waiter = self._reply_waiter
        return waiter is not None and waiter.is_waiting(msg_id)

    def _undeliverable_call(self, msg_id, exc):
        waiter = self._reply_waiter
        if waiter is not None:
            waiter.fail(msg_id, exc)

    def _forget_parent_connections(self):
        if not self._check_pid():
            return
        with self._lock:
            for obj in (self._publisher, self._reply_waiter):
                if obj is not None:
                    obj.abandon()
                    _ABANDONED.append(obj)
            if self._publisher is not None or self._reply_waiter is not None:
                LOG.warning(
                    "Process forked after connecting to %s; this process opens its own "
                    "connections (create transports after forking to avoid this)",
                    self.safe_url,
                )
            self._publisher = self._reply_waiter = None
