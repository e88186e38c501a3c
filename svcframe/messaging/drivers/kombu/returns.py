"""What becomes of a message the broker returned as unroutable (publisher confirms).

* A reply whose queue is gone (its caller timed out, or restarts) is sent
  again with growing delays, a bounded number of times per queue; then the
  queue is remembered as obsolete for a while, and later replies to it are
  not sent at all, as oslo.messaging does.  Just after a reconnect the
  replies re-sent come back until their callers are back: only the
  reconnect window bounds those.
* A cast or call returned just after the publisher reconnected is sent
  again until its server is back: after a broker restart the servers
  re-declare their queues a moment after the clients reconnect.  A call
  is held back only while its caller still waits.
* Otherwise a call fails at once (UnroutableCall) and a cast is dropped
  with a warning.

The publisher's lock guards this state: every method but
``reply_queue_obsolete`` is called with it held.
"""

import collections
import logging
import time

from svcframe.messaging import _wire as wire
from svcframe.messaging import exceptions
from svcframe.messaging._ratelimit import shorten
from svcframe.messaging.drivers.base import no_server_listening
from svcframe.messaging.drivers.kombu.outgoing import Outgoing

__all__ = ["ReturnedMessages"]

LOG = logging.getLogger(__name__)

# The first delay before a returned message is sent again.
RESEND_DELAY = 0.25
# Replies to a queue that does not exist: re-sent with growing delays, at
# most this many times per queue (whatever the number of replies to it).
REPLY_RESEND_MAX_DELAY = 5.0
REPLY_RETRIES_PER_QUEUE = 20
OBSOLETE_REPLY_QUEUE_TTL = 60.0
# Reply queues known to be gone, as oslo.messaging's cache: the most recent ones.
OBSOLETE_REPLY_QUEUES = 200
# Messages waiting to be re-sent (returned replies and casts) at most.
MAX_PENDING_RESENDS = 10000


class ReturnedMessages:
    """Decides, for each returned message, whether to send it again, fail its call or drop it."""

    def __init__(self, driver, on_undeliverable_call=None, wake=None):
        self.driver = driver
        self._on_undeliverable_call = on_undeliverable_call
        # Wakes the publisher's upkeep thread, which sends what is due.
        self._wake = wake or (lambda: None)
        self.reconnected_at = None
        self._resends = []  # (due, Outgoing): returned replies and casts to send again
        # (routing key, unique id) -> when a cast or call first came back after a reconnect
        self._first_returned = {}
        self._reply_queue_attempts = {}  # reply queue -> (first failure, attempts)
        self._obsolete_reply_queues = collections.OrderedDict()

    @property
    def pending(self):
        """Whether messages wait to be sent again."""
        return bool(self._resends)

    def handle(self, exchange, routing_key, body, reason, expiration=None):
        """Act on a message returned by the broker (``expiration`` as sent, in ms)."""
        inner = wire.peek_message(body)
        msg_id = inner.get("_msg_id")
        if exchange == "":
            self._resend_reply(routing_key, body, msg_id)
        elif "_reply_q" in inner and self.just_reconnected():
            # After a broker restart the servers re-declare their queues a
            # moment after this client is back: hold the call back as a cast
            # is, rather than failing it; its caller's timeout still applies.
            self._resend_after_reconnect(exchange, routing_key, body, inner, expiration)
        elif "_reply_q" in inner and self._on_undeliverable_call:
            self._on_undeliverable_call(
                msg_id,
                exceptions.UnroutableCall(
                    no_server_listening(
                        routing_key,
                        exchange,
                        f"at {self.driver.safe_url}: "
                        f"the broker could not route the call ({reason})",
                    )
                ),
            )
        elif self.just_reconnected():
            # After a broker restart the servers re-declare their (transient)
            # queues a moment after we reconnect: send the cast again then.
            self._resend_after_reconnect(exchange, routing_key, body, inner)
        else:
            LOG.warning(
                "A cast of %r to %r (exchange %r) was dropped: no queue is bound to it",
                inner.get("method"),
                routing_key,
                exchange,
            )

    def just_reconnected(self):
        since = self.reconnected_at
        return (
            since is not None
            and time.monotonic() - since < self.driver.missing_consumer_retry_timeout
        )

    def _resend_after_reconnect(self, exchange, routing_key, body, inner, expiration=None):
        is_call = "_reply_q" in inner
        kind = "call" if is_call else "cast"
        msg_id = inner.get("_msg_id")
        if is_call and not self._call_waited_for(msg_id):
            return  # its caller gave up already
        key = (routing_key, inner.get("_unique_id"))
        now = time.monotonic()
        first = self._first_returned.setdefault(key, now)
        if first == now:
            LOG.info(
                "A %s of %s to %r came back after reconnecting: sending it again until its "
                "server is back (up to %s s)",
                kind,
                shorten(inner.get("method")),
                routing_key,
                self.driver.missing_consumer_retry_timeout,
            )
        if not self.just_reconnected():
            del self._first_returned[key]
            if is_call and self._on_undeliverable_call:
                self._on_undeliverable_call(
                    msg_id,
                    exceptions.MessageDeliveryFailure(
                        no_server_listening(
                            routing_key,
                            exchange,
                            f"{now - self.reconnected_at:.0f} s after reconnecting",
                        )
                    ),
                )
                return
            LOG.warning(
                "A cast of %s to %r (exchange %r) was dropped: no queue was bound to it "
                "%.0f s after reconnecting",
                shorten(inner.get("method")),
                routing_key,
                exchange,
                now - self.reconnected_at,
            )
            return
        if len(self._resends) >= MAX_PENDING_RESENDS:
            LOG.warning(
                "Dropped a returned %s to %r: too many messages to re-send", kind, routing_key
            )
            return
        if exchange.endswith("_fanout"):
            target = self.driver.fanout_exchange(exchange[: -len("_fanout")])
        else:
            target = self.driver.topic_exchange(exchange)
        outgoing = Outgoing(
            exchange=target,
            routing_key=routing_key,
            body=body,
            mandatory=True,
            expiration=_seconds(expiration),
            kind=kind,
            msg_id=msg_id,
        )
        self._schedule(now + RESEND_DELAY, outgoing)

    def _call_waited_for(self, msg_id):
        waiting = getattr(self.driver, "call_waited_for", None)
        return waiting is None or waiting(msg_id)

    def _resend_reply(self, reply_q, body, msg_id):
        now = time.monotonic()
        first, attempts = self._reply_queue_attempts.get(reply_q, (now, 0))
        # Just after a reconnect, the replies this publisher re-sent come back
        # until their callers have declared their reply queues again: the
        # reconnect window bounds them, as it bounds returned casts, and a
        # burst of them does not use up the queue's attempts.
        if not self.just_reconnected():
            attempts += 1
        gone_for = now - first
        if (
            gone_for >= self.driver.missing_consumer_retry_timeout
            or attempts > REPLY_RETRIES_PER_QUEUE
            or len(self._resends) >= MAX_PENDING_RESENDS
        ):
            self._reply_queue_attempts.pop(reply_q, None)
            self.mark_reply_queue_obsolete(reply_q, now)
            LOG.warning(
                "Gave up sending the reply to message %s: queue %s has been gone for %.0f s "
                "(%d attempt(s))",
                shorten(msg_id),
                shorten(reply_q),
                gone_for,
                max(0, attempts - 1),
            )
            return
        self._reply_queue_attempts[reply_q] = (first, attempts)
        delay = min(RESEND_DELAY * 2 ** max(0, attempts - 1), REPLY_RESEND_MAX_DELAY)
        outgoing = Outgoing(
            exchange="", routing_key=reply_q, body=body, mandatory=True, kind="reply", msg_id=msg_id
        )
        self._schedule(now + delay, outgoing)

    def _schedule(self, due, outgoing):
        self._resends.append((due, outgoing))
        self._wake()

    def take_due(self, now):
        """The messages due to be sent again at ``now``, removed from those waiting."""
        due, keep = [], []
        for item in self._resends:
            (due if item[0] <= now else keep).append(item)
        self._resends = keep
        if (self._first_returned or self._reply_queue_attempts) and not keep and not due:
            # Retries that succeeded leave their first-failure time behind.
            horizon = now - 2 * self.driver.missing_consumer_retry_timeout
            self._first_returned = {
                key: t for key, t in self._first_returned.items() if t > horizon
            }
            self._reply_queue_attempts = {
                key: v for key, v in self._reply_queue_attempts.items() if v[0] > horizon
            }
        return [outgoing for _, outgoing in due]

    def mark_reply_queue_obsolete(self, reply_q, now):
        cache = self._obsolete_reply_queues
        cache[reply_q] = now + OBSOLETE_REPLY_QUEUE_TTL
        cache.move_to_end(reply_q)
        while len(cache) > OBSOLETE_REPLY_QUEUES:
            cache.popitem(last=False)

    def reply_queue_obsolete(self, reply_q):
        """Whether replies to ``reply_q`` are not worth sending: it was gone a moment ago."""
        until = self._obsolete_reply_queues.get(reply_q)
        if until is None:
            return False
        if time.monotonic() > until:
            self._obsolete_reply_queues.pop(reply_q, None)
            return False
        return True


def _seconds(expiration):
    """A returned message's ``expiration`` property (ms, text) in seconds, or None."""
    if expiration is None:
        return None
    try:
        return max(0.001, int(expiration) / 1000.0)
    except (TypeError, ValueError):
        return None
