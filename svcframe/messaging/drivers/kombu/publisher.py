"""The process's publishing connection: casts, calls, fanouts and replies.

One connection and channel per driver, shared by every thread under a
lock: a publish is a few microseconds of socket write, so threads queueing
on the lock cost less than a connection pool.  With publisher confirms
(RabbitMQ) the confirms are pipelined: a publish does not wait for its
``basic.ack``; unconfirmed messages are kept until acked, re-sent after a
reconnect, and at most ``CONFIRM_WINDOW`` may be outstanding.  That keeps
the no-silent-loss guarantee without a round trip per message.

What the broker returns goes to ``returns``; an ``upkeep`` thread reads
confirms and sends heartbeats while nobody publishes.
"""

import collections
import logging
import threading
import time

import amqp

from svcframe.masking import mask_password
from svcframe.messaging import exceptions
from svcframe.messaging._ratelimit import shorten
from svcframe.messaging.drivers.kombu import frames
from svcframe.messaging.drivers.kombu.connection import (
    connect,
    connection_errors,
    drainer,
    reconnect_backoff,
)
from svcframe.messaging.drivers.kombu.outgoing import declare_exchange
from svcframe.messaging.drivers.kombu.returns import ReturnedMessages
from svcframe.messaging.drivers.kombu.upkeep import PublisherUpkeep

__all__ = ["Publisher"]

LOG = logging.getLogger(__name__)

CONFIRM_WINDOW = 2048
# Outstanding confirms that make a publish read every pending ack at once.
COLLECT_AT = 64
# A publish that fails again right after a fresh connection is not a lost
# connection but a message the broker (or the transport) will not take:
# after this many attempts, with backoff between them, it is given up.
FRESH_CONNECTION_ATTEMPTS = 3


def _header_properties(properties):
    """The serialized property list of a message with ``properties``, made once per value.

    Every message this publisher sends has the same properties but the
    delivery mode and the call expiration; py-amqp serializes them again for
    each publish, which was the largest single cost of a publish.
    """
    key = tuple(sorted(properties.items()))
    data = _serialized.get(key)
    if data is None:
        message = amqp.Message(
            b"",
            priority=0,
            content_type="application/json",
            content_encoding="utf-8",
            application_headers={},
            **properties,
        )
        data = message._serialize_properties()
        if len(_serialized) < _SERIALIZED_PROPERTIES:
            _serialized[key] = data
    return data


# Distinct property sets (call timeouts, mostly) whose serialization is kept.
_SERIALIZED_PROPERTIES = 64
_serialized = {}


class Publisher:
    """Thread-safe publishing on one connection, with pipelined confirms and reconnects."""

    def __init__(self, driver, on_undeliverable_call=None):
        self.driver = driver
        self._on_undeliverable_call = on_undeliverable_call
        self._lock = threading.Lock()
        self._conn = None
        self._channel = None
        self._declared = set()
        self._confirms = driver.supports_confirms
        self._unconfirmed = collections.OrderedDict()
        self._next_tag = 1
        self._returned = []
        self._nacked = []
        self._connections = 0
        self._closed = False
        self._wakeup = threading.Event()
        self.returns = ReturnedMessages(driver, on_undeliverable_call, wake=self._wakeup.set)
        self._upkeep = None
        self._errors = ()

    # -- public -------------------------------------------------------------

    def publish(self, outgoing, retry=None, deadline=None):
        """Hand ``outgoing`` to the broker; MessageDeliveryFailure if it cannot be."""
        if outgoing.kind == "reply" and self.returns.reply_queue_obsolete(outgoing.routing_key):
            LOG.debug("Dropped a reply to %s: its queue is gone", outgoing.routing_key)
            return
        # Another thread may hold the lock for as long as the broker is
        # down (reconnecting with backoff): a call waits no longer than its
        # deadline for it.
        wait = -1 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._lock.acquire(timeout=wait):
            raise exceptions.TransportUnavailable(
                f"Timed out waiting to publish to {outgoing.routing_key}: "
                "the connection to the broker is being re-established"
            )
        try:
            if self._closed:
                raise exceptions.MessageDeliveryFailure("the transport was closed")
            self._publish_locked(outgoing, retry, deadline)
            # py-amqp reads a pending frame (an ack, most often) before every
            # publish; the upkeep thread reads the rest.  A full read here
            # only once acks pile up keeps a failed non-blocking read off
            # every publish.
            if self._confirms and len(self._unconfirmed) >= COLLECT_AT:
                self._collect_locked(block=len(self._unconfirmed) >= CONFIRM_WINDOW)
        finally:
            self._lock.release()
        upkeep = self._upkeep
        if upkeep is None:
            if self._confirms:
                self._start_upkeep()
        elif upkeep.idle and self._unconfirmed:
            # Only an idle upkeep thread needs waking; a busy one polls anyway.
            self._wakeup.set()

    def flush(self, timeout=10.0):
        """Wait until every message sent so far is confirmed; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if not self._unconfirmed or self._conn is None:
                    return not self._unconfirmed
                self._collect_locked(block=True, timeout=0.05)
            if time.monotonic() >= deadline:
                return False

    def close(self):
        self.flush(timeout=2.0)
        with self._lock:
            self._closed = True
            self._drop_connection_locked()
        self._wakeup.set()

    def abandon(self):
        """Forget the connection without closing it (it belongs to the parent process)."""
        self._closed = True
        self._conn = self._channel = None
        self._wakeup.set()

    # -- publishing ---------------------------------------------------------

    def _publish_locked(self, outgoing, retry, deadline):
        attempts = 0
        fresh_failures = 0
        backoff = None
        while True:
            fresh = False
            if self._conn is None:
                self._connect_locked(retry, deadline)
                fresh = True
            try:
                self._send_locked(outgoing)
                return
            except connection_errors(self._conn) as exc:
                attempts += 1
                reason = mask_password(str(exc)) or type(exc).__name__
                self._drop_connection_locked()
                if fresh:
                    fresh_failures += 1
                if fresh_failures >= FRESH_CONNECTION_ATTEMPTS:
                    # Not a lost connection: this message cannot be sent
                    # (name too long, no space left, ...).  Said once.
                    LOG.error(
                        "Could not send a %s to %s: %s", outgoing.kind, outgoing.routing_key, reason
                    )
                    raise exceptions.MessageDeliveryFailure(
                        f"Unable to send to {outgoing.routing_key}: {reason}"
                    )
                if retry is not None and 0 <= retry < attempts:
                    raise exceptions.MessageDeliveryFailure(
                        f"Unable to send to {outgoing.routing_key} after {attempts} attempt(s): "
                        f"{reason}"
                    )
                LOG.warning(
                    "Publishing to %s failed: %s; reconnecting", outgoing.routing_key, reason
                )
                if fresh:
                    # Failed on a connection just made: wait before the next
                    # one, never a busy loop.
                    backoff = backoff or self.driver.new_backoff()
                    delay = backoff.next()
                    if deadline is not None and time.monotonic() + delay >= deadline:
                        raise exceptions.TransportUnavailable(
                            f"Timed out sending to {outgoing.routing_key}: {reason}"
                        )
                    time.sleep(delay)
            except exceptions.MessagingException:
                # Already ours, and said (an in-process transport reports an
                # unroutable call from inside the publish): the connection is fine.
                raise
            except Exception as exc:
                # Not a connection error: the message itself cannot be
                # framed (a routing key over 255 bytes, ...).  The frame may
                # be half-written: start the next publish on a new connection.
                self._drop_connection_locked()
                reason = mask_password(str(exc)) or type(exc).__name__
                LOG.error(
                    "Could not send a %s to %s: %s",
                    outgoing.kind,
                    shorten(outgoing.routing_key),
                    reason,
                )
                raise exceptions.MessageDeliveryFailure(
                    f"Unable to send to {shorten(outgoing.routing_key)}: {reason}"
                ) from exc

    def _send_locked(self, outgoing):
        channel = self._channel
        declare_exchange(channel, outgoing.exchange, self._declared)
        if isinstance(channel, amqp.Channel):
            # Framed here: py-amqp's basic_publish first tries a non-blocking
            # read on every publish (for the connection.blocked capability),
            # a failed read and its exception each time, and its generic
            # method writer costs more than the rest of the publish.  What
            # arrives here (acks, returns, connection.blocked) is read in
            # batches by _collect_locked and the upkeep thread instead.
            frames.publish(
                channel,
                outgoing.exchange_name,
                outgoing.routing_key,
                outgoing.mandatory,
                _header_properties(outgoing.properties()),
                outgoing.body,
            )
        else:
            channel.basic_publish(
                outgoing.prepare(channel),
                exchange=outgoing.exchange_name,
                routing_key=outgoing.routing_key,
                mandatory=outgoing.mandatory,
            )
        if self._confirms:
            self._unconfirmed[self._next_tag] = outgoing
            self._next_tag += 1
        elif outgoing.settled is not None:
            # No confirms (embedded transport): handed over is all we learn.
            outgoing.settled.event.set()

    def _connect_locked(self, retry, deadline):
        # After an outage, come back as soon as the broker does (as servers
        # do): the first connection keeps the configured, slower backoff.
        backoff = reconnect_backoff(self.driver) if self._connections else None
        conn = connect(self.driver, "Publisher", retry=retry, deadline=deadline, backoff=backoff)
        channel = conn.channel()
        if self._confirms:
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_return)
            channel.confirm_select()
        self._conn, self._channel = conn, channel
        self._errors = connection_errors(conn)
        self._connections += 1
        if self._connections > 1:
            self.returns.reconnected_at = time.monotonic()
        self._declared = set()
        self._next_tag = 1
        pending = list(self._unconfirmed.values())
        self._unconfirmed.clear()
        if pending:
            # The broker may or may not have these: sending twice beats losing
            # them (servers drop duplicates by _unique_id).
            LOG.warning("Re-sending %d unconfirmed message(s) after reconnecting", len(pending))
            for outgoing in pending:
                self._send_locked(outgoing)

    def _drop_connection_locked(self):
        conn, self._conn, self._channel = self._conn, None, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass

    # -- confirms and returns -----------------------------------------------

    def _collect_locked(self, block=False, timeout=None):
        """Read pending acks, nacks and returns; with ``block`` wait for the window to drain."""
        conn = self._conn
        if conn is None:
            return
        errors = self._errors
        drain = drainer(conn)
        try:
            if block:
                limit = time.monotonic() + (timeout if timeout is not None else 30.0)
                target = CONFIRM_WINDOW // 2 if timeout is None else 0
                while len(self._unconfirmed) > target and time.monotonic() < limit:
                    try:
                        drain(timeout=0.05)
                    except TimeoutError:
                        if timeout is not None:
                            break
            else:
                while True:
                    drain(timeout=0)
        except TimeoutError:
            pass
        except errors as exc:
            LOG.warning(
                "Publisher connection lost while reading confirms: %s",
                mask_password(str(exc)) or type(exc).__name__,
            )
            self._drop_connection_locked()
        self._handle_failures_locked()

    def _on_ack(self, delivery_tag, multiple):
        if multiple:
            while self._unconfirmed:
                tag = next(iter(self._unconfirmed))
                if tag > delivery_tag:
                    break
                _settle(self._unconfirmed.pop(tag))
        else:
            _settle(self._unconfirmed.pop(delivery_tag, None))

    def _on_nack(self, delivery_tag, multiple):
        tags = [t for t in self._unconfirmed if t <= delivery_tag] if multiple else [delivery_tag]
        for tag in tags:
            outgoing = self._unconfirmed.pop(tag, None)
            if outgoing is not None:
                self._nacked.append(outgoing)
                if outgoing.settled is not None:
                    outgoing.settled.returned = (
                        outgoing.exchange_name,
                        outgoing.routing_key,
                        "refused by the broker (nack)",
                    )
                    outgoing.settled.event.set()

    def _on_return(self, exc, exchange, routing_key, message):
        # The broker sends basic.return before the basic.ack of the same
        # message: a sender waiting for its verdict learns of it here.
        for outgoing in self._unconfirmed.values():
            if outgoing.settled is not None and outgoing.body == message.body:
                outgoing.settled.returned = (exchange, routing_key, str(exc))
                return
        expiration = getattr(message, "properties", {}).get("expiration")
        self._returned.append((exchange, routing_key, message.body, str(exc), expiration))

    def _handle_failures_locked(self):
        returned, self._returned = self._returned, []
        nacked, self._nacked = self._nacked, []
        for exchange, routing_key, body, reason, expiration in returned:
            self.returns.handle(exchange, routing_key, body, reason, expiration)
        for outgoing in nacked:
            LOG.error(
                "The broker refused (nack) a %s to %s on exchange %r",
                outgoing.kind,
                outgoing.routing_key,
                outgoing.exchange_name,
            )
            if outgoing.kind == "call" and self._on_undeliverable_call:
                self._on_undeliverable_call(
                    outgoing.msg_id,
                    exceptions.MessageDeliveryFailure(
                        f"The broker refused the call to {outgoing.routing_key}"
                    ),
                )

    # -- background upkeep --------------------------------------------------

    @property
    def closed(self):
        return self._closed

    @property
    def busy(self):
        """Whether confirms or re-sends are outstanding."""
        return bool(self._unconfirmed or self.returns.pending)

    def tend(self, heartbeat_every, last_heartbeat):
        """Read confirms, send a heartbeat when due (``heartbeat_every`` after the last).

        Returns the messages due to be sent again and when the last
        heartbeat went out.
        """
        with self._lock:
            if self._conn is not None:
                self._collect_locked()
                now = time.monotonic()
                # Reading the confirms may have found the connection gone.
                if (
                    self._conn is not None
                    and heartbeat_every
                    and now - last_heartbeat >= heartbeat_every
                ):
                    last_heartbeat = now
                    self._heartbeat_locked()
            return self.returns.take_due(time.monotonic()), last_heartbeat

    def _heartbeat_locked(self):
        try:
            self._conn.heartbeat_check(rate=self.driver.heartbeat_rate)
        except self._errors as exc:
            LOG.warning(
                "Publisher heartbeat failed: %s; will reconnect on next send",
                mask_password(str(exc)) or type(exc).__name__,
            )
            self._drop_connection_locked()
        except Exception:  # noqa: BLE001 - e.g. a connection closed under it
            LOG.debug("Publisher heartbeat check failed", exc_info=True)
            self._drop_connection_locked()

    def _start_upkeep(self):
        with self._lock:
            if self._upkeep is not None:
                return
            self._upkeep = PublisherUpkeep(self, self._wakeup)
        self._upkeep.start()


def _settle(outgoing):
    if outgoing is not None and outgoing.settled is not None:
        outgoing.settled.event.set()
