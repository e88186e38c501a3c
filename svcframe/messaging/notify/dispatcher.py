"""Notification dispatchers: one endpoint method per priority, singly or in batches."""

import itertools
import logging
import operator

from svcframe.messaging.serializer import NoOpSerializer

__all__ = [
    "PRIORITIES",
    "NotificationResult",
    "NotificationDispatcher",
    "BatchNotificationDispatcher",
]

LOG = logging.getLogger(__name__)

PRIORITIES = ["audit", "debug", "info", "warn", "error", "critical", "sample"]


class NotificationResult:
    """What an endpoint method returns: HANDLED (or None) acks, REQUEUE gives the message back."""

    HANDLED = "handled"
    REQUEUE = "requeue"


class NotificationDispatcher:
    """Calls ``endpoint.<priority>(ctxt, publisher_id, event_type, payload, metadata)``.

    Every endpoint with a method of the message's priority gets it, in
    order, unless its ``filter_rule`` (a NotificationFilter) does not match;
    the first REQUEUE (or exception) stops the walk and requeues.
    """

    def __init__(self, endpoints, serializer=None):
        self.endpoints = endpoints
        self.serializer = serializer or NoOpSerializer()
        self._callbacks = {}
        for endpoint, priority in itertools.product(endpoints, PRIORITIES):
            method = getattr(endpoint, priority, None)
            if callable(method):
                rule = getattr(endpoint, "filter_rule", None)
                self._callbacks.setdefault(priority, []).append((rule, method))

    @property
    def supported_priorities(self):
        return list(self._callbacks)

    def _extract(self, incoming):
        ctxt = self.serializer.deserialize_context(incoming.ctxt)
        message = incoming.message
        metadata = {"message_id": message.get("message_id"), "timestamp": message.get("timestamp")}
        priority = str(message.get("priority", "")).lower()
        payload = self.serializer.deserialize_entity(ctxt, message.get("payload"))
        return (
            priority,
            incoming,
            {
                "ctxt": ctxt,
                "publisher_id": message.get("publisher_id"),
                "event_type": message.get("event_type"),
                "payload": payload,
                "metadata": metadata,
            },
        )

    @staticmethod
    def _matches(rule, m):
        return rule is None or rule.match(
            m["ctxt"], m["publisher_id"], m["event_type"], m["metadata"], m["payload"]
        )

    def dispatch(self, incoming):
        priority, _, message = self._extract(incoming)
        if priority not in PRIORITIES:
            LOG.warning('Unknown priority "%s"', priority)
            return None
        for rule, callback in self._callbacks.get(priority, []):
            if not self._matches(rule, message):
                continue
            try:
                result = callback(
                    message["ctxt"],
                    message["publisher_id"],
                    message["event_type"],
                    message["payload"],
                    message["metadata"],
                )
            except Exception:
                LOG.exception("Notification endpoint %s raised an exception", callback)
                result = NotificationResult.REQUEUE
            if result == NotificationResult.REQUEUE:
                return result
        return NotificationResult.HANDLED


class BatchNotificationDispatcher(NotificationDispatcher):
    """Calls ``endpoint.<priority>(messages)`` with the batch's messages of that priority.

    Returns the incoming messages to requeue.
    """

    def dispatch(self, incoming):
        extracted = sorted((self._extract(m) for m in incoming), key=operator.itemgetter(0))
        requeue = set()
        for priority, group in itertools.groupby(extracted, key=operator.itemgetter(0)):
            _, raws, messages = zip(*group, strict=True)
            if priority not in PRIORITIES:
                LOG.warning('Unknown priority "%s"', priority)
                continue
            for rule, callback in self._callbacks.get(priority, []):
                chosen = [m for m in messages if self._matches(rule, m)]
                if not chosen:
                    continue
                try:
                    result = callback(chosen)
                except Exception:
                    LOG.exception("Notification endpoint %s raised an exception", callback)
                    result = NotificationResult.REQUEUE
                if result == NotificationResult.REQUEUE:
                    requeue.update(raws)
                    break
        return requeue
