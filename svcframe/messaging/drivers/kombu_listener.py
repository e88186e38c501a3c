"""The server side of a kombu driver: three consumers and the messages they receive.

A request is acked on receipt, as oslo.messaging does (at-most-once: a
request is never run twice because a worker died half-way).  A message
that cannot be read is logged and dropped; when its caller can still be
found, the caller gets the error instead of waiting for a timeout.
"""

import logging
import sys

import kombu

from svcframe import metrics
from svcframe.messaging import exceptions, wire
from svcframe.messaging.drivers import base
from svcframe.messaging.drivers.kombu_connection import ConsumerThread

__all__ = ["KombuListener", "KombuIncomingMessage"]

LOG = logging.getLogger(__name__)

_BODY_EXCERPT = 120


class KombuIncomingMessage(base.IncomingMessage):
    """A request received from the broker; replies go to the caller's reply queue."""

    def __init__(self, driver, request):
        super().__init__(request.ctxt, request.message, request.msg_id, request.client_timeout)
        self.driver = driver
        self.reply_q = request.reply_q

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
            try:
                raise exceptions.MessagingServerError(f"the result cannot be serialized: {exc}")
            except exceptions.MessagingServerError:
                failure = wire.serialize_failure(sys.exc_info())
            body = wire.encode(wire.build_reply(self.msg_id, None, failure, ending=True))
        self.driver.send_reply(self.reply_q, body, self.msg_id)


class _ServerConsumer(ConsumerThread):
    def __init__(self, listener):
        super().__init__(listener.driver, f"rpc-server {listener.target.topic}")
        self.listener = listener

    def declare(self, conn, channel):
        return self.listener.declare(channel)


class KombuListener(base.Listener):
    """Consumes ``topic``, ``topic.server`` and the topic's fanout exchange."""

    def __init__(self, driver, target):
        self.driver = driver
        self.target = target
        self.fanout_queue_name = driver.fanout_queue_name(target.topic)
        self._on_message = None
        self._thread = None
        self._duplicates = base.DuplicateFilter()

    def declare(self, channel):
        driver, target = self.driver, self.target
        prefetch = driver.prefetch_count
        if prefetch:
            channel.basic_qos(0, prefetch, False)
        exchange = driver.topic_exchange(target.exchange or driver.default_exchange)
        queues = [
            driver.topic_queue(target.topic, exchange, target.topic),
            driver.topic_queue(f"{target.topic}.{target.server}", exchange),
            driver.fanout_queue(self.fanout_queue_name, target.topic),
        ]
        consumers = []
        for queue in queues:
            consumer = kombu.Consumer(
                channel,
                queues=[queue],
                on_message=self._receive,
                no_ack=False,
                **driver.consumer_options(),
            )
            consumer.declare()
            consumer.consume()
            consumers.append(consumer)
        return consumers

    def start(self, on_message):
        if self._thread is not None:
            return
        self._on_message = on_message
        self._thread = _ServerConsumer(self)
        self._thread.start()
        # Callers expect a started server to be consuming: wait for the declare.
        self._thread.ready.wait(self.driver.start_timeout)
        if self._thread.failed is not None:
            raise self._thread.failed
        if not self._thread.ready.is_set():
            raise exceptions.TransportUnavailable(
                f"The RPC server for {self.target.topic!r} could not reach the broker at "
                f"{self.driver.safe_url} within {self.driver.start_timeout} s"
            )

    @property
    def consuming(self):
        thread = self._thread
        return thread is not None and thread.conn is not None

    def stop(self):
        if self._thread is not None:
            self._thread.stop()

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

    def _receive(self, message):
        try:
            message.ack()
        except Exception as exc:  # noqa: BLE001 - any failure here means the channel is gone
            # Unacked, it goes back to the queue and another consumer (or this
            # one, once reconnected) gets it: handling it here would run it twice.
            LOG.warning(
                "Could not ack a message on topic %r (%s); the broker will deliver it again",
                self.target.topic,
                exc,
            )
            return
        body = message.body
        try:
            inner = wire.decode(body)
        except exceptions.UnsupportedEnvelopeVersion as exc:
            self._reject(body, exc, wire.peek_reply_address(body))
            return
        except wire.MalformedMessage as exc:
            self._reject(body, exc, (None, None))
            return
        request = wire.parse_request(inner)
        if self._duplicates.is_duplicate(request.unique_id):
            LOG.warning("Dropped a duplicate message (unique id %s)", request.unique_id)
            return
        incoming = KombuIncomingMessage(self.driver, request)
        incoming.fanout = message.delivery_info.get("exchange") == f"{self.target.topic}_fanout"
        self._on_message(incoming)

    def _reject(self, body, exc, reply_address):
        msg_id, reply_q = reply_address
        metrics.record_malformed(type(exc).__name__)
        excerpt = bytes(body[:_BODY_EXCERPT]) if isinstance(body, (bytes, bytearray)) else body
        LOG.warning(
            "Dropped an unreadable message on topic %r: %s (body starts %r)",
            self.target.topic,
            exc,
            excerpt if isinstance(excerpt, bytes) else str(excerpt)[:_BODY_EXCERPT],
        )
        if msg_id is not None:
            try:
                raise exc
            except exceptions.MessagingException:
                failure = wire.serialize_failure(sys.exc_info())
            reply = wire.build_reply(msg_id, None, failure, ending=True)
            self.driver.send_reply(reply_q, wire.encode(reply), msg_id)
