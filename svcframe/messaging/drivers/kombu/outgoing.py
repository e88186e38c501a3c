"""A message on its way to the broker, and the broker's verdict on it."""

import dataclasses
import threading

__all__ = ["Outgoing", "Settlement"]


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


class Settlement:
    """The broker's verdict on one message: confirmed, or returned as unroutable."""

    __slots__ = ("event", "returned")

    def __init__(self):
        self.event = threading.Event()
        self.returned = None  # (exchange, routing_key, reason) when the broker returned it

    def wait(self, timeout):
        return self.event.wait(timeout)
