"""The server side of a kombu driver: three consumers and the messages they receive.

Every delivery is settled, whatever happens to it: acked once handled (see
``rpc_ack_mode`` for when), given back to the broker (rejected with
requeue) when the server stops before running it, rejected when it cannot
be read.  An unsettled delivery would hold one of the consumer's prefetch
credits forever; a few of them stop the consumer.

The connection belongs to the consumer thread: acks and requeues decided
by the executor threads are queued and sent by that thread after its next
drain; consecutive acks go out as one ``basic.ack`` with ``multiple``.

A message that cannot be read is logged and rejected; when its caller can
still be found, the caller gets the error instead of waiting for a timeout.
"""

import collections
import itertools
import logging
import threading
import time

import amqp

from svcframe import metrics
from svcframe.messaging import _wire as wire
from svcframe.messaging import exceptions
from svcframe.messaging._ratelimit import RateLimitedLog, shorten
from svcframe.messaging.drivers import base
from svcframe.messaging.drivers.kombu import payload as kombu_payload
from svcframe.messaging.drivers.kombu.connection import ConsumerThread, start_kombu_consumers

__all__ = ["KombuListener", "KombuIncomingMessage", "effective_prefetch"]

LOG = logging.getLogger(__name__)
# What peers send wrong: a line per kind of fault, not per message.
_DROPPED = RateLimitedLog(LOG)

_BODY_EXCERPT = 120
# How often the consumer thread looks for acks to send while messages it
# received are still being worked on (it cannot be woken from a socket read).
SETTLE_POLL_INTERVAL = 0.002
# Redeliveries of messages this process is still working on (after a
# reconnect) are recognized by their unique id among this many.
DUPLICATE_MEMORY = 4096
# With messages in progress but none received or settled for BUSY_SECONDS,
# the consumer thread looks for acks this often instead.
BUSY_SECONDS = 0.5
QUIET_POLL_INTERVAL = 0.05
# How long an ack may wait for the deliveries before it to be handled, so
# that they all go in one frame.
ACK_HOLD_SECONDS = 0.004

_ACK, _REQUEUE, _REJECT = "ack", "requeue", "reject"


def effective_prefetch(driver):
    """Messages a server may hold unfinished: the option, or twice the executor's threads."""
    configured = driver.prefetch_count
    if configured and configured > 0:
        return configured
    return 2 * driver.conf.executor_thread_pool_size


def _consumer_shares(prefetch):
    """Credits of the (topic, topic.server, fanout) consumers, adding up to ``prefetch``.

    Per-consumer prefetch is what every queue type supports (quorum queues
    refuse a channel-wide one).  The shared topic queue and the server's own
    queue get most of it in near-equal parts: casts directed at one server
    (nova's ``topic.host``) are as common as shared ones, and one credit
    there would run them one at a time.  Fanout, rare, gets an eighth.
    Each consumer needs one credit at least: below 3, the topic queue gets
    the whole prefetch and the other two one each.
    """
    if prefetch < 3:
        return prefetch, 1, 1
    fanout = max(1, prefetch // 8)
    server = max(1, (prefetch - fanout) // 2)
    return prefetch - fanout - server, server, fanout


def _kind_of(reason):
    # Messages differ in their values, not in what is wrong with them.
    if isinstance(reason, BaseException):
        return type(reason)
    return str(reason).split(":", 1)[0][:64]


class _Delivery:
    """What the listener needs of a delivery, whatever the kombu transport."""

    __slots__ = ("tag", "generation", "body", "headers", "content_type", "unique_id", "fanout")

    def __init__(self, tag, generation, body, headers, content_type, fanout=False):
        self.tag = tag
        self.generation = generation
        self.body = body
        self.headers = headers
        self.content_type = content_type
        self.unique_id = None
        # Came through the topic's fanout exchange: a metric label.
        self.fanout = fanout


class KombuIncomingMessage(base.IncomingMessage):
    """A request received from the broker; replies go to the caller's reply queue."""

    def __init__(self, listener, delivery, request):
        super().__init__(request.ctxt, request.message, request.msg_id, request.client_timeout)
        self.driver = listener.driver
        self.reply_q = request.reply_q
        self._listener = listener
        self._delivery = delivery
        self._settled = False
        self.fanout = delivery.fanout

    def claim(self):
        listener = self._listener
        if self._delivery.generation != listener.generation:
            # Its connection is gone: the broker has put it back in the queue.
            return False
        # Remembered once it runs: a redelivery of a message that only
        # waited here (and was given back) must not be taken for a duplicate.
        if not listener.remember(self._delivery.unique_id):
            LOG.info("Dropped a duplicate message (unique id %s)", self._delivery.unique_id)
            self.acknowledge()
            return False
        return True

    def acknowledge(self):
        if not self._settled:
            self._settled = True
            self._listener.settle(self._delivery, _ACK)

    def requeue(self):
        if not self._settled:
            self._settled = True
            self._listener.settle(self._delivery, _REQUEUE)

    def reply(self, reply=None, failure=None):
        if self.msg_id is None:
            return
        failure_text = wire.serialize_failure(failure) if failure else None
        self._send(wire.build_reply(self.msg_id, reply, failure_text, ending=True))

    def heartbeat(self):
        if self.msg_id is not None:
            self._send(wire.build_reply(self.msg_id, None, None, ending=False))

    def _send(self, reply):
        try:
            body = wire.encode(reply)
        except (TypeError, ValueError) as exc:
            # The endpoint returned something JSON cannot carry: tell the caller.
            LOG.error("Cannot serialize the reply to message %s: %s", self.msg_id, exc)
            # No traceback: it would only show this module's frames (and
            # server paths) whatever rpc_send_tracebacks says.
            error = exceptions.MessagingServerError(f"the result cannot be serialized: {exc}")
            failure = wire.serialize_failure((type(error), error, None))
            body = wire.encode(wire.build_reply(self.msg_id, None, failure, ending=True))
        self.driver.send_reply(self.reply_q, body, self.msg_id)


class _RawConsumer:
    """A py-amqp consumer without kombu's Message (and its unbounded decompression)."""

    def __init__(self, channel, queue, callback, arguments):
        self.channel = channel
        self.tag = channel.basic_consume(
            queue=queue.name, callback=callback, arguments=arguments, no_ack=False
        )

    def cancel(self):
        self.channel.basic_cancel(self.tag)


class _ServerConsumer(ConsumerThread):
    def __init__(self, listener):
        super().__init__(listener.driver, f"rpc-server {listener.target.topic}")
        self.listener = listener

    def declare(self, conn, channel):
        return self.listener.declare(channel)

    def flush(self):
        self.listener.flush()

    def final_flush(self):
        self.listener.flush(force=True)

    def drain_timeout(self):
        return self.listener.drain_timeout()


class KombuListener(base.Listener):
    """Consumes ``topic``, ``topic.server`` and the topic's fanout exchange."""

    def __init__(self, driver, target):
        self.driver = driver
        self.target = target
        self.fanout_queue_name = driver.fanout_queue_name(target.topic)
        self._fanout_exchange = f"{target.topic}_fanout"
        self.prefetch = effective_prefetch(driver)
        self._on_message = None
        self._thread = None
        self._duplicates = base.DuplicateFilter(DUPLICATE_MEMORY)
        self._duplicates_lock = threading.Lock()
        # Owned by the consumer thread: the channel's unsettled delivery tags,
        # in delivery order, and whether each was marked for an ack.
        self._channel = None
        self._generation = itertools.count(1)
        self._current_generation = 0
        self._multiple_ack = False
        self._outstanding = collections.OrderedDict()
        self._new_acks = []  # handled, not acked yet (behind one still running)
        self._held_since = None
        self._ack_batch = max(1, self.prefetch // 4)
        # Outstanding deliveries from which an ack wakes the consumer thread
        # at once: near a full window the broker sends nothing until the
        # acks go out, and waiting for a timer would cap the rate at the
        # window per timer tick.  On RabbitMQ, declare() sets it from the
        # per-consumer credits.
        self._wake_at = max(1, self.prefetch // 2)
        self._last_activity = 0.0
        # Filled by any thread, emptied by the consumer thread.
        self._settlements = collections.deque()
        # Whether every ack must wake the consumer thread (see drain_timeout);
        # on RabbitMQ only a nearly full window does (see _wake_at).
        self._acks_wake = driver.interruptible

    # -- consuming (the consumer thread) --------------------------------------

    def declare(self, channel):
        driver, target = self.driver, self.target
        self._channel = channel
        self._current_generation = next(self._generation)
        self._outstanding.clear()
        self._new_acks = []
        self._held_since = None
        exchange = driver.topic_exchange(target.exchange or driver.default_exchange)
        queues = [
            driver.topic_queue(target.topic, exchange, target.topic),
            driver.topic_queue(f"{target.topic}.{target.server}", exchange),
            driver.fanout_queue(self.fanout_queue_name, target.topic),
        ]
        if isinstance(channel, amqp.Channel):
            self._multiple_ack = True
            shares = _consumer_shares(self.prefetch)
            # Credits are per consumer: the smaller of the two busy ones fills first.
            self._wake_at = max(1, min(shares[:2]) // 2)
            consumers = []
            for queue, share in zip(queues, shares, strict=True):
                queue(channel).declare()
                # basic.qos applies to the consumers started after it.
                channel.basic_qos(0, share, False)
                consumers.append(
                    _RawConsumer(channel, queue, self._receive_amqp, queue.consumer_arguments)
                )
            return consumers
        # Other kombu transports (the embedded one) deliver kombu Messages;
        # their basic_ack acknowledges one tag only.
        self._multiple_ack = False
        channel.basic_qos(0, self.prefetch, False)
        return start_kombu_consumers(
            driver,
            channel,
            queues,
            self._receive_kombu,
            on_decode_error=self._undecodable_kombu,
        )

    def drain_timeout(self):
        if self.driver.interruptible:
            if (
                not self.driver.acks_wake_consumer
                and self._outstanding
                and time.monotonic() - self._last_activity < BUSY_SECONDS
            ):
                # Busy: the next message, or this short wait, brings the
                # thread back soon enough to send the acks settled meanwhile.
                self._acks_wake = False
                return ACK_HOLD_SECONDS
            # Set before looking at the settlements: settle() appends, then reads it.
            self._acks_wake = True
            if self._settlements:
                return ACK_HOLD_SECONDS
            # settle() wakes the consumer thread of such a transport: no polling.
            return self.driver.drain_timeout
        if self._settlements or self._new_acks:
            return SETTLE_POLL_INTERVAL
        if self._outstanding:
            # Busy: acks come often, each one frees a credit.  Only long
            # methods running: poll less, their acks are rare.
            if time.monotonic() - self._last_activity < BUSY_SECONDS:
                return SETTLE_POLL_INTERVAL
            return QUIET_POLL_INTERVAL
        return self.driver.drain_timeout

    def _receive_amqp(self, message):
        properties = message.properties
        delivery = _Delivery(
            message.delivery_tag,
            self._current_generation,
            message.body,
            properties.get("application_headers"),
            properties.get("content_type"),
            self._is_fanout(message.delivery_info),
        )
        self._receive(delivery)

    def _receive_kombu(self, message):
        delivery = _Delivery(
            message.delivery_tag,
            self._current_generation,
            message.body,
            message.headers,
            message.content_type,
            self._is_fanout(message.delivery_info),
        )
        self._receive(delivery)

    def _is_fanout(self, delivery_info):
        return (delivery_info or {}).get("exchange") == self._fanout_exchange

    def _undecodable_kombu(self, message, exc):
        delivery = _Delivery(message.delivery_tag, self._current_generation, b"", None, None)
        self._outstanding[delivery.tag] = False
        self._drop(delivery, f"kombu could not read it: {exc}", (None, None), type(exc).__name__)

    def _receive(self, delivery):
        # Runs in the consumer thread for every delivery: nothing may escape,
        # and every path ends with the delivery settled or handed on.
        self._outstanding[delivery.tag] = False
        self._last_activity = time.monotonic()
        try:
            incoming = self._read(delivery)
            if incoming is None:
                return
        except Exception as exc:  # noqa: BLE001 - RecursionError, MemoryError, ... included
            self._drop(
                delivery,
                f"{type(exc).__name__}: {exc}",
                self._scan_address(delivery),
                type(exc).__name__,
            )
            return
        try:
            self._on_message(incoming)
        except Exception:  # noqa: BLE001 - the server refused it: another one will take it
            LOG.exception("Could not hand a message on topic %r over", self.target.topic)
            self._forget(delivery)
            self.settle(delivery, _REQUEUE)

    def _read(self, delivery):
        try:
            body = kombu_payload.read_body(delivery.body, delivery.headers, delivery.content_type)
        except kombu_payload.BadPayload as exc:
            self._drop(delivery, exc, (None, None))
            return None
        try:
            inner = wire.decode(body)
        except exceptions.UnsupportedEnvelopeVersion as exc:
            self._drop(delivery, exc, wire.peek_reply_address(body))
            return None
        except wire.MalformedMessage as exc:
            self._drop(delivery, exc, (None, None))
            return None
        except (RecursionError, MemoryError) as exc:
            name = type(exc).__name__
            self._drop(delivery, name, wire.scan_reply_address(body), name)
            return None
        try:
            request = wire.parse_request(inner)
        except wire.InvalidReplyAddress as exc:
            self._drop(delivery, exc, (None, None))
            return None
        if self._duplicates.seen(request.unique_id):
            # Expected after a reconnect in after_processing mode: INFO.
            _DROPPED.log(
                logging.INFO,
                "duplicate",
                "Dropped a duplicate message (unique id %s)",
                shorten(request.unique_id, 100),
            )
            self.settle(delivery, _ACK)
            return None
        delivery.unique_id = request.unique_id
        # The raw body is not needed any more: do not keep it while queued.
        delivery.body = None
        return KombuIncomingMessage(self, delivery, request)

    @staticmethod
    def _scan_address(delivery):
        try:
            return wire.scan_reply_address(delivery.body)
        except Exception:  # noqa: BLE001 - only a best effort to answer the caller
            return None, None

    def _drop(self, delivery, reason, reply_address, reason_name=None):
        # ``reason_name``: a fixed name for the metric label, never the text.
        self.settle(delivery, _REJECT)
        metrics.record_malformed(reason_name or type(reason).__name__)
        msg_id, reply_q = reply_address
        body = delivery.body
        _DROPPED.warning(
            ("unreadable", _kind_of(reason)),
            "Dropped an unreadable message on topic %r: %s (body starts %s)",
            self.target.topic,
            shorten(reason),
            shorten(body if isinstance(body, (bytes, bytearray)) else str(body), _BODY_EXCERPT),
        )
        if msg_id is None:
            return
        error = reason
        if not isinstance(error, exceptions.MessagingException):
            error = exceptions.InvalidRequest(f"the request could not be read: {str(reason)[:500]}")
        # No traceback: the caller's request is what is wrong, not our code.
        failure = wire.serialize_failure((type(error), error, None))
        reply = wire.build_reply(msg_id, None, failure, ending=True)
        self.driver.send_reply(reply_q, wire.encode(reply), msg_id)

    def _forget(self, delivery):
        with self._duplicates_lock:
            self._duplicates.forget(delivery.unique_id)

    def remember(self, unique_id):
        """Note that the message ``unique_id`` runs here; False if one already did (any thread)."""
        with self._duplicates_lock:
            return not self._duplicates.is_duplicate(unique_id)

    @property
    def generation(self):
        """Which connection deliveries come from; acks of older ones are void."""
        return self._current_generation

    # -- settling ---------------------------------------------------------------

    def settle(self, delivery, action):
        """Ack, requeue or reject ``delivery``; from any thread."""
        if action == _REQUEUE:
            # Its next delivery (here, after a restart) is not a duplicate.
            self._forget(delivery)
        self._settlements.append((delivery, action))
        thread = self._thread
        if thread is not None and threading.current_thread() is thread:
            self.flush()
        elif thread is not None and (
            action != _ACK or self._acks_wake or len(self._outstanding) >= self._wake_at
        ):
            thread.interrupt()

    def flush(self, force=False):
        """Send the acks, requeues and rejects queued so far (the consumer thread only).

        ``force``: no ack is held back for a batch (the connection is about to close).
        """
        settlements = self._settlements
        channel = self._channel
        outstanding = self._outstanding
        generation = self._current_generation
        new_acks = self._new_acks
        if not settlements and not new_acks:
            return
        if settlements:
            self._last_activity = time.monotonic()
        while settlements:
            delivery, action = settlements.popleft()
            tag = delivery.tag
            if delivery.generation != generation or tag not in outstanding:
                # Received on a connection that is gone: the broker has
                # already put it back in its queue.
                continue
            if action == _ACK:
                outstanding[tag] = True
                new_acks.append(tag)
            else:
                del outstanding[tag]
                channel.basic_reject(tag, requeue=action == _REQUEUE)
        if not new_acks:
            return
        if not self._multiple_ack:
            self._new_acks = []
            for tag in new_acks:
                if outstanding.pop(tag, None) is not None:
                    channel.basic_ack(tag)
            return
        # Held a moment so that they go out together (the oldest run as one
        # basic.ack with multiple, those behind one still running one by one),
        # but not for long, since each one holds a prefetch credit.  A frame
        # per message was a fifth of a busy consumer thread's time.
        now = time.monotonic()
        if self._held_since is None:
            self._held_since = now
        if not (
            force or len(new_acks) >= self._ack_batch or now - self._held_since >= ACK_HOLD_SECONDS
        ):
            return
        self._new_acks = []
        self._held_since = None
        last = None
        while outstanding:
            tag, acked = next(iter(outstanding.items()))
            if not acked:
                break
            del outstanding[tag]
            last = tag
        if last is not None:
            channel.basic_ack(last, multiple=True)
        for tag in new_acks:
            if outstanding.pop(tag, None) is not None:
                channel.basic_ack(tag)

    # -- Listener ---------------------------------------------------------------

    def start(self, on_message):
        if self._thread is not None:
            return
        self._on_message = on_message
        self._thread = _ServerConsumer(self)
        # Callers expect a started server to be consuming: wait for the declare.
        if not self._thread.start_and_wait(self.driver.start_timeout):
            raise exceptions.TransportUnavailable(
                f"The RPC server for {self.target.topic!r} could not reach the broker at "
                f"{self.driver.safe_url} within {self.driver.start_timeout} s"
            )

    @property
    def consuming(self):
        thread = self._thread
        return thread is not None and thread.conn is not None

    def stop(self):
        # Cancels the consumers; the thread keeps the connection to settle
        # what was received until cleanup().
        if self._thread is not None:
            self._thread.stop_consuming()

    def cleanup(self):
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.stop()
        conn = thread.conn
        if conn is not None:
            try:
                # oslo.messaging deletes its fanout queues on close; so do we,
                # or every restart leaves one behind until x-expires.
                self.driver.fanout_queue(self.fanout_queue_name, self.target.topic)(
                    conn.default_channel
                ).delete()
            except Exception as exc:  # noqa: BLE001 - best effort on the way out
                LOG.debug("Could not delete fanout queue %s: %s", self.fanout_queue_name, exc)
        thread.close()
