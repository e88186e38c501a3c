"""kombu's virtual transport over the embedded QueueStore.

kombu routes (topic, direct and fanout exchanges, with bindings kept in
one file per exchange as its filesystem transport does), so routing is
the same as on RabbitMQ.  This module adds what a broker would do:

* a message is acked, rejected or given back (requeue, channel closed)
  by deleting or renaming its claimed file; a no-ack consumer deletes it
  on receipt;
* a call request (it carries ``expiration``) is dropped unprocessed once
  expired, and fails at once when no live process consumes any queue it
  routes to (RabbitMQ's mandatory flag, stricter: a queue left behind by a
  stopped server does not count);
* a cast that no queue is bound to is logged and dropped, as on RabbitMQ;
* exclusive queues (reply and fanout queues) belong to the declaring
  process and are deleted when its connection closes or when it dies;
* a consumer sleeps until a message arrives (see ``wakeup``) and, every
  ``SWEEP_INTERVAL``, returns the claims of dead processes to their queues.
"""

import fcntl
import itertools
import json
import logging
import os
import time

from kombu.transport.virtual import Empty

from svcframe import statedir
from svcframe.messaging import exceptions
from svcframe.messaging.drivers.brokerless import BrokerlessChannel, BrokerlessTransport
from svcframe.messaging.drivers.embedded import store as store_module
from svcframe.messaging.drivers.embedded.wakeup import DirectoryGone, new_wakeup

__all__ = ["Transport"]

LOG = logging.getLogger(__name__)

SWEEP_INTERVAL = 10.0


class Channel(BrokerlessChannel):
    unroutable_hint = ": is the service running with the same state_path?"

    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        self.store = connection.store
        self._ready = {}  # queue -> deque of message names, oldest first
        self._claimed = {}  # delivery tag -> claimed file
        self._no_ack = set()
        self._markers = {}  # consumer tag -> consumer marker file
        self._tables = {}  # exchange -> ((inode, mtime, size), table)
        self._tags = itertools.count(1)

    def location(self):
        return f"embedded transport, data directory {self.store.data_dir}"

    # -- exchanges and bindings --------------------------------------------

    def _exchange_file(self, exchange):
        store_module.check_name(exchange, "exchange")
        return os.path.join(self.store.control_dir, f"{exchange}.exchange")

    def get_table(self, exchange):
        path = self._exchange_file(exchange)
        cached = self._tables.get(exchange)
        if cached is not None:
            # A stat, not an open, on every publish: bindings rarely change.
            try:
                st = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                return []
            if cached[0] == (st.st_ino, st.st_mtime_ns, st.st_size):
                return cached[1]
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return []
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            content = f.read()
        try:
            table = [tuple(b) for b in _loads(content)]
        except (ValueError, TypeError):
            return []  # read between a create and its first write
        self._tables[exchange] = ((st.st_ino, st.st_mtime_ns, st.st_size), table)
        return table

    def _update_table(self, exchange, change):
        path = self._exchange_file(exchange)
        fd = statedir.open_private_file(path, os.O_RDWR, exclusive=False)
        with os.fdopen(fd, "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                content = f.read()
                try:
                    bindings = _loads(content) if content.strip() else []
                except ValueError:
                    bindings = []
                updated = change([list(b) for b in bindings])
                if updated is not None:
                    f.seek(0)
                    f.write(_dumps(updated))
                    f.truncate()
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        binding = [routing_key or "", pattern or "", queue or ""]

        def add(bindings):
            if binding in bindings:
                return None
            return [binding, *bindings]

        self._update_table(exchange, add)

    def _unbind_queues(self, exchange, queues):
        def remove(bindings):
            kept = [b for b in bindings if b[2] not in queues]
            return kept if len(kept) != len(bindings) else None

        try:
            self._update_table(exchange, remove)
        except OSError as exc:
            LOG.debug("Could not update the bindings of %s: %s", exchange, exc)

    # -- queues -------------------------------------------------------------

    def _new_queue(self, queue, exclusive=False, **kwargs):
        owner = os.getpid() if exclusive else None
        self.store.declare(queue, owner_pid=owner)
        if exclusive:
            self.connection.exclusive_queues.add(queue)

    def _has_queue(self, queue, **kwargs):
        return self.store.exists(queue)

    def _delete(self, queue, exchange=None, *args, **kwargs):
        if exchange:
            self._unbind_queues(exchange, {queue})
        self.store.delete(queue)
        self._ready.pop(queue, None)

    def _purge(self, queue):
        names = self.store.list_ready(queue)
        for name in names:
            claimed = self.store.claim(queue, name)
            if claimed is not None:
                self.store.forget(claimed[0])
        return len(names)

    def _size(self, queue):
        return len(self.store.list_ready(queue))

    # -- publishing ---------------------------------------------------------

    def basic_publish(self, message, exchange, routing_key, mandatory=False, **kwargs):
        self._inplace_augment_message(message, exchange, routing_key)
        properties = message["properties"]
        if isinstance(message["body"], bytes):
            # Our own bodies are JSON text; anything else travels as base64.
            message["body"], properties["body_encoding"] = self.encode_body(
                message["body"], "base64"
            )
        expiration = properties.get("expiration")
        if expiration:
            message["expires_at"] = time.time() + int(expiration) / 1000.0
        try:
            if not exchange:
                # The default exchange: the routing key names the queue (a reply).
                store_module.check_name(routing_key)
                if not self._put_live(routing_key, message):
                    LOG.debug("Dropped a message to %s: the queue is gone", routing_key)
                    return 0
                return 1
            queues = self._route(exchange, routing_key)
            if expiration and not any(self.store.has_consumer(q) for q in queues):
                raise self.unroutable_call(routing_key, exchange)
            delivered = sum(1 for q in queues if self._put_live(q, message, exchange))
        except (store_module.InvalidQueueName, store_module.StoreFull) as exc:
            raise exceptions.MessageDeliveryFailure(str(exc)) from None
        if not delivered and mandatory:
            self.dropped_unbound(routing_key, exchange)
        return delivered  # how many queues got it (0: what RabbitMQ returns)

    def _route(self, exchange, routing_key):
        table = self.get_table(exchange)
        return list(self.typeof(exchange).lookup(table, exchange, routing_key, None))

    def _put_live(self, queue, message, exchange=None):
        """Store ``message`` in ``queue`` unless the queue belongs to an exited process."""
        if self.store.abandoned(queue):
            LOG.debug("Deleting queue %s: its process has exited", queue)
            self._delete(queue, exchange)
            return False
        if self.store.put(queue, message):
            return True
        if exchange:
            self._unbind_queues(exchange, {queue})  # a binding left by a deleted queue
        return False

    def _put(self, queue, message, **kwargs):
        self._put_live(queue, message)

    # -- consuming ----------------------------------------------------------

    def basic_consume(self, queue, no_ack, callback, consumer_tag, **kwargs):
        path = self.store.declare(queue)
        super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)
        if no_ack:
            self._no_ack.add(queue)
        self.connection.wakeup.watch(queue, path)
        self._markers[consumer_tag] = self.store.add_consumer(queue)

    def basic_cancel(self, consumer_tag):
        queue = self._tag_to_queue.get(consumer_tag)
        marker = self._markers.pop(consumer_tag, None)
        if marker is not None:
            store_module._unlink_quietly(marker)
        super().basic_cancel(consumer_tag)
        if queue is not None and queue not in self._active_queues:
            self.connection.wakeup.unwatch(queue)

    def repair(self):
        """Put back what a deletion under us removed; raise DirectoryGone if a queue went.

        The consumer markers (callers look for them) and this channel's
        bindings (a deleted bindings file routes nothing to our queues).
        """
        for tag, marker in list(self._markers.items()):
            queue = self._tag_to_queue.get(tag)
            if queue is not None and not self.store.restore_marker(queue, marker):
                raise DirectoryGone(f"queue directory of {queue!r} was removed")
        if self._markers:
            for exchange, info in list(self.state.exchanges.items()):
                for meta in info.get("table") or ():
                    self._queue_bind(exchange, *meta)

    def _get(self, queue):
        ready = self._ready.get(queue)
        if not ready:
            changed = self.connection.wakeup.take_changed(queue)
            if not changed:
                raise Empty()
            arrived = None if changed is True else changed
            ready = self._ready[queue] = self.store.list_ready(queue, arrived)
        no_ack = queue in self._no_ack
        while ready:
            name = ready.popleft()
            if no_ack:
                claimed, payload = None, self.store.take(queue, name)
                if payload is None:
                    continue  # another consumer took it
            else:
                got = self.store.claim(queue, name)
                if got is None:
                    continue  # another consumer took it
                claimed, payload = got
            expires_at = payload.pop("expires_at", None)
            if expires_at is not None and time.time() > expires_at:
                LOG.info("Dropped an expired call request on %s", queue)
                if claimed is not None:
                    self.store.forget(claimed)
                continue
            tag = next(self._tags)
            payload["properties"]["delivery_tag"] = tag
            if claimed is not None:
                self._claimed[tag] = claimed
            return payload
        raise Empty()

    def basic_ack(self, delivery_tag, multiple=False):
        super().basic_ack(delivery_tag, multiple=multiple)
        claimed = self._claimed.pop(delivery_tag, None)
        if claimed is not None:
            self.store.forget(claimed)

    def basic_reject(self, delivery_tag, requeue=False):
        super().basic_reject(delivery_tag, requeue=requeue)
        claimed = self._claimed.pop(delivery_tag, None)
        if claimed is not None:
            self.store.forget(claimed)

    def _restore(self, message):
        # Back to its place in its own queue (kombu would publish a copy).
        claimed = self._claimed.pop(message.delivery_tag, None)
        if claimed is not None:
            self.store.release(claimed)

    def _forget_consumers(self):
        for tag in list(self._markers):
            store_module._unlink_quietly(self._markers.pop(tag))

    def _release_unacked(self):
        for claimed in self._claimed.values():
            self.store.release(claimed)
        self._claimed.clear()


class Transport(BrokerlessTransport):
    Channel = Channel
    driver_type = "embedded"
    driver_name = "embedded"

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        options = client.transport_options
        self.store = store_module.QueueStore(options["data_dir"])
        self.polling_interval = options.get("polling_interval", 0.01)
        self._wakeup = None
        self._next_sweep = 0.0

    @property
    def wakeup(self):
        if self._wakeup is None:
            self._wakeup = new_wakeup(self.polling_interval)
        return self._wakeup

    def establish_connection(self):
        self.store.ensure_dirs()
        return super().establish_connection()

    def drain_events(self, connection, timeout=None):
        start = time.monotonic()
        get = self.cycle.get
        while True:
            now = time.monotonic()
            if now >= self._next_sweep:
                self._next_sweep = now + SWEEP_INTERVAL
                self.store.sweep()
                for channel in self.channels:
                    channel.repair()
            try:
                get(self._deliver, timeout=timeout)
                return
            except Empty:
                pass
            wait = self._next_sweep - time.monotonic()
            if timeout is not None:
                left = timeout - (time.monotonic() - start)
                if left <= 0:
                    raise TimeoutError()
                wait = min(wait, left)
            blocked = not any(c.qos.can_consume() for c in self.channels if c._consumers)
            if self.wakeup.wait(max(wait, 0.0), blocked):
                raise TimeoutError()  # interrupted: the consumer is stopping

    def interrupt(self):
        """End a drain_events() blocked in another thread (it raises a timeout)."""
        wakeup = self._wakeup
        if wakeup is not None:
            wakeup.interrupt()

    def delete_queue(self, queue):
        self.store.delete(queue)

    def close_connection(self, connection):
        try:
            super().close_connection(connection)
        finally:
            if self._wakeup is not None:
                self._wakeup.close()
                self._wakeup = None


def _loads(content):
    return json.loads(content)


def _dumps(bindings):
    return json.dumps(bindings).encode("utf-8")
