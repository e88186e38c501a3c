"""A message on its way to the broker, and the broker's verdict on it."""

import dataclasses
import threading

__all__ = ["Outgoing", "Settlement", "declare_exchange"]

# kombu's virtual channels add keys to the properties they are given:
# every publish gets its own copy, or one embedded publish breaks every
# later RabbitMQ publish of the process ("multiple values for 'priority'").
_PROPERTIES = {"delivery_mode": 2}


@dataclasses.dataclass(kw_only=True, slots=True, eq=False)
class Outgoing:
    """A message on its way to the broker, kept until the broker confirms it."""

    exchange: object  # a kombu Exchange, or '' for the default exchange
    routing_key: str
    body: object  # the encoded message, str or bytes
    mandatory: bool  # have the broker return it when no queue takes it
    kind: str  # 'call', 'cast', 'fanout', 'reply' or 'notification'
    expiration: float | None = None  # seconds: a call's timeout
    msg_id: str | None = None
    # A Settlement when the sender waits for the broker's verdict
    # (at-least-once casts); None for the usual fire-and-forget.
    settled: "Settlement | None" = None

    @property
    def exchange_name(self):
        return self.exchange if isinstance(self.exchange, str) else self.exchange.name

    def properties(self):
        """The message properties to publish it with: persistent, and its expiration."""
        properties = dict(_PROPERTIES)
        if self.expiration is not None:
            properties["expiration"] = str(int(self.expiration * 1000))
        return properties

    def prepare(self, channel):
        """The message as a kombu virtual ``channel`` publishes it."""
        return channel.prepare_message(
            self.body, 0, "application/json", "utf-8", {}, self.properties()
        )


def declare_exchange(channel, exchange, declared):
    """Declare ``exchange`` on ``channel`` unless its name is in ``declared``; '' is the default."""
    if not isinstance(exchange, str) and exchange.name not in declared:
        exchange(channel).declare()
        declared.add(exchange.name)


class Settlement:
    """The broker's verdict on one message: confirmed, or returned as unroutable."""

    __slots__ = ("event", "returned")

    def __init__(self):
        self.event = threading.Event()
        self.returned = None  # (exchange, routing_key, reason) when the broker returned it

    def wait(self, timeout):
        return self.event.wait(timeout)
