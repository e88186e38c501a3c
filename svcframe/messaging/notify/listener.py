"""Notification listeners: servers that hand notifications to endpoints, singly or in batches."""

import logging
import threading

from svcframe.messaging.notify.dispatcher import (
    BatchNotificationDispatcher,
    NotificationDispatcher,
    NotificationResult,
)
from svcframe.messaging.server import MessageHandlingServer

__all__ = [
    "NotificationServer",
    "BatchNotificationServer",
    "get_notification_listener",
    "get_batch_notification_listener",
]

LOG = logging.getLogger(__name__)


class NotificationServer(MessageHandlingServer):
    """Listens on every (target, priority) its endpoints handle; acks each once handled.

    With ``allow_requeue`` a REQUEUE result (or an endpoint's exception)
    gives the notification back to the broker; without, it is acked.
    Listeners with the same ``pool`` share one queue per (target,
    priority), so each notification goes to one of them; listeners in
    different pools (or none) each get every notification.  An
    ``exclusive`` listener (svcframe's) gets a copy of every notification on
    queues of its own, deleted when it disconnects, and takes nothing from
    the others: a tail.
    """

    def __init__(
        self,
        transport,
        targets,
        dispatcher,
        executor=None,
        allow_requeue=True,
        pool=None,
        exclusive=False,
    ):
        super().__init__(transport, dispatcher, executor)
        self.targets = targets
        self._allow_requeue = allow_requeue
        self._pool = pool
        self._exclusive = exclusive
        self._targets_priorities = {
            (target, priority) for target in targets for priority in dispatcher.supported_priorities
        }

    def _create_listener(self):
        return self.transport._listen_for_notifications(
            self._targets_priorities, self._pool, exclusive=self._exclusive
        )

    def _process(self, incoming):
        try:
            result = self.dispatcher.dispatch(incoming)
        except Exception:
            LOG.exception("Exception during notification handling")
            result = NotificationResult.REQUEUE
        self._settle(incoming, result == NotificationResult.REQUEUE)

    def _settle(self, incoming, requeue):
        try:
            if requeue and self._allow_requeue:
                incoming.requeue()
            else:
                incoming.acknowledge()
        except Exception:
            LOG.exception("Could not ack or requeue a notification")

    def __repr__(self):
        topics = sorted({t.topic for t in self.targets})
        return f"<{type(self).__name__} topics={topics} pool={self._pool!r}>"


class BatchNotificationServer(NotificationServer):
    """Hands endpoints lists: ``batch_size`` notifications, or what came within ``batch_timeout``.

    A batch starts with its first notification and goes to the endpoints
    when it is full or ``batch_timeout`` seconds later, whichever is first.
    """

    def __init__(
        self,
        transport,
        targets,
        dispatcher,
        executor=None,
        allow_requeue=True,
        pool=None,
        batch_size=1,
        batch_timeout=None,
    ):
        super().__init__(transport, targets, dispatcher, executor, allow_requeue, pool)
        self._batch_size = batch_size or 1
        self._batch_timeout = batch_timeout
        self._batch = []
        self._batch_lock = threading.Lock()
        self._timer = None

    def _on_incoming(self, incoming):
        with self._batch_lock:
            self._batch.append(incoming)
            if len(self._batch) >= self._batch_size:
                batch = self._take_locked()
            else:
                batch = None
                if self._timer is None and self._batch_timeout is not None:
                    self._timer = threading.Timer(self._batch_timeout, self._flush)
                    self._timer.daemon = True
                    self._timer.start()
        if batch:
            super()._on_incoming(batch)

    def _take_locked(self):
        batch, self._batch = self._batch, []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return batch

    def _flush(self):
        with self._batch_lock:
            batch = self._take_locked()
        if batch:
            super()._on_incoming(batch)

    def stop(self):
        super().stop()
        # What was received is handled, not left unacked until the connection closes.
        self._flush()

    def _process(self, incoming):
        try:
            requeue = self.dispatcher.dispatch(incoming)
        except Exception:
            LOG.exception("Exception during notification handling")
            requeue = set(incoming)
        for message in incoming:
            self._settle(message, message in requeue)


def get_notification_listener(
    transport,
    targets,
    endpoints,
    executor=None,
    serializer=None,
    allow_requeue=False,
    pool=None,
    exclusive=False,
):
    """A NotificationServer for ``targets``: ``endpoint.<priority>(ctxt, publisher_id,
    event_type, payload, metadata)`` for each notification; ``exclusive`` is svcframe's."""
    dispatcher = NotificationDispatcher(endpoints, serializer)
    return NotificationServer(
        transport, targets, dispatcher, executor, allow_requeue, pool, exclusive
    )


def get_batch_notification_listener(
    transport,
    targets,
    endpoints,
    executor=None,
    serializer=None,
    allow_requeue=False,
    pool=None,
    batch_size=None,
    batch_timeout=None,
):
    """A BatchNotificationServer for ``targets``: ``endpoint.<priority>(messages)``."""
    dispatcher = BatchNotificationDispatcher(endpoints, serializer)
    return BatchNotificationServer(
        transport, targets, dispatcher, executor, allow_requeue, pool, batch_size, batch_timeout
    )
