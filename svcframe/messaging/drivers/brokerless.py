"""What the two broker-less drivers share: the embedded one (files) and the fake one (memory).

Each is a kombu virtual transport that acts as the broker itself.  kombu
routes; these classes add what RabbitMQ does and kombu's virtual
transports do not:

* a message received and not acked goes back to the front of its own
  queue when its channel closes or it is rejected with requeue (kombu
  would route a copy again);
* exclusive queues (reply and fanout queues) go with the connection that
  declared them;
* a call request no live consumer would receive fails at once, and a cast
  no queue is bound to is logged and dropped;
* a consumer blocked in ``drain_events`` can be woken from another thread
  (``interrupt``), so nobody polls for a stop or a settlement.

Subclasses keep the messages where they like: ``_restore`` gives back one
received message, ``_forget_consumers`` and ``_release_unacked`` run when a
channel closes, ``_delete`` deletes a queue.
"""

import logging

import kombu
from kombu.transport import virtual

from svcframe.messaging import exceptions
from svcframe.messaging.drivers.base import no_server_listening
from svcframe.messaging.drivers.kombu import KombuDriver

__all__ = ["BrokerlessChannel", "BrokerlessDriver", "BrokerlessTransport"]

LOG = logging.getLogger(__name__)


class BrokerlessChannel(virtual.Channel):
    supports_fanout = True
    # Bodies are JSON text already: no base64 round trip.
    body_encoding = None
    # Said after where the transport looked, when no server takes a call.
    unroutable_hint = ""

    def location(self):
        """Where this transport keeps its queues, for messages about them."""
        raise NotImplementedError

    def unroutable_call(self, routing_key, exchange):
        """UnroutableCall for a call request no live consumer would receive."""
        return exceptions.UnroutableCall(
            no_server_listening(
                routing_key, exchange, f"on the {self.location()}{self.unroutable_hint}"
            )
        )

    def dropped_unbound(self, routing_key, exchange):
        LOG.warning(
            "A message to %r (exchange %r) was dropped: no queue is bound to it (%s)",
            routing_key,
            exchange,
            self.location(),
        )

    def queue_delete(self, queue, if_unused=False, if_empty=False, **kwargs):
        super().queue_delete(queue, if_unused=if_unused, if_empty=if_empty, **kwargs)
        self._delete(queue)

    def _next_delivery_tag(self):
        return 0  # replaced by a per-channel counter when the message is received

    def _restore_at_beginning(self, message):
        self._restore(message)

    def close(self):
        self._forget_consumers()
        super().close()
        # Whatever was received and never acked goes back to its queue.
        self._release_unacked()

    def _forget_consumers(self):
        raise NotImplementedError

    def _release_unacked(self):
        raise NotImplementedError


class BrokerlessTransport(virtual.Transport):
    implements = virtual.Transport.implements.extend(
        asynchronous=False, exchange_type=frozenset(["direct", "topic", "fanout"])
    )

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        self.exclusive_queues = set()

    def delete_queue(self, queue):
        raise NotImplementedError

    def close_connection(self, connection):
        try:
            super().close_connection(connection)
        finally:
            # Exclusive queues live as long as the connection that declared them.
            for queue in self.exclusive_queues:
                self.delete_queue(queue)
            self.exclusive_queues.clear()


class BrokerlessDriver(KombuDriver):
    """A KombuDriver over a BrokerlessTransport: transient entities, exclusive private queues."""

    supports_confirms = False
    # Consumers sleep until a message arrives or they are stopped (interrupt).
    drain_timeout = 5.0
    interruptible = True

    def __init__(self, conf, url, default_exchange=None, allowed_remote_exmods=None):
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        self._exchanges = {}  # built once per name, not per send

    def topic_exchange(self, name):
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = self._exchanges[name] = kombu.Exchange(name, type="topic", durable=False)
        return exchange

    def fanout_exchange(self, topic):
        name = f"{topic}_fanout"
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = self._exchanges[name] = kombu.Exchange(name, type="fanout", durable=False)
        return exchange

    def topic_queue(self, name, exchange, routing_key=None):
        return kombu.Queue(name, exchange, routing_key=routing_key or name, durable=False)

    def fanout_queue(self, name, topic):
        # Exclusive: it belongs to this process and goes when it does.
        return kombu.Queue(
            name, self.fanout_exchange(topic), routing_key=topic, durable=False, exclusive=True
        )

    def reply_queue(self, name):
        return kombu.Queue(name, routing_key="", durable=False, exclusive=True)
