"""Publishing on the embedded transport: a channel per thread, no process-wide lock.

The shared kombu Publisher serialises every publish of a process on one
connection, which costs a few microseconds on a socket but a file create
and a rename here: eight threads calling at once would queue behind one
another's disk writes.  A publish on this transport needs no connection
state beyond the exchanges it declared, and the store's file names are
unique per process, so each thread publishes on a channel of its own.
There is nothing to confirm, reconnect or re-send: a message is on disk
when ``publish`` returns, or it raised MessageDeliveryFailure.
"""

import threading

from svcframe.messaging import exceptions
from svcframe.messaging.drivers.kombu.outgoing import declare_exchange

__all__ = ["ThreadLocalPublisher"]


class ThreadLocalPublisher:
    """The embedded driver's publisher: the kombu Publisher's interface, one channel per thread."""

    def __init__(self, driver):
        self.driver = driver
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections = []
        self._closed = False

    def publish(self, outgoing, retry=None, deadline=None):
        if self._closed:
            raise exceptions.MessageDeliveryFailure("the transport was closed")
        local = self._local
        channel = getattr(local, "channel", None)
        if channel is None:
            channel = self._open(local)
        declare_exchange(channel, outgoing.exchange, local.declared)
        delivered = channel.basic_publish(
            outgoing.prepare(channel),
            exchange=outgoing.exchange_name,
            routing_key=outgoing.routing_key,
            mandatory=outgoing.mandatory,
        )
        settled = getattr(outgoing, "settled", None)
        if settled is not None:
            # On disk is the broker's confirm; no queue, its return.
            if not delivered:
                settled.returned = (outgoing.exchange_name, outgoing.routing_key, "NO_ROUTE")
            settled.event.set()

    def _open(self, local):
        conn = self.driver.make_connection()
        try:
            channel = conn.channel()
        except OSError as exc:
            raise exceptions.MessageDeliveryFailure(
                f"cannot use the embedded transport's data directory {self.driver.data_dir}: "
                f"{exc.strerror or exc}"
            ) from None
        with self._lock:
            self._connections.append(conn)
        local.channel, local.declared = channel, set()
        return channel

    def flush(self, timeout=10.0):
        return True  # on disk when publish() returned

    def close(self):
        self._closed = True
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing what may already be broken
                pass

    def abandon(self):
        """After a fork: the parent's channels are not ours to use or close."""
        self._closed = True
        with self._lock:
            self._connections = []
