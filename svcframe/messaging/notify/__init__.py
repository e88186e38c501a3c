"""Notifications, wire-compatible with oslo.messaging's ``messagingv2`` driver.

A svcframe Notifier's notifications reach oslo.messaging listeners and the
other way round: same exchange, routing keys, queues and envelope::

    transport = notify.get_notification_transport(conf)
    notifier = notify.Notifier(transport, "conductor.host1", driver="messagingv2",
                               topics=["notifications"])
    notifier.info(ctxt, "task.create", {"task_id": task_id})

    class Endpoint:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            ...

    listener = notify.get_notification_listener(
        transport, [Target(topic="notifications")], [Endpoint()])
    listener.start()
"""

from svcframe.messaging.notify.dispatcher import NotificationResult
from svcframe.messaging.notify.filter import NotificationFilter
from svcframe.messaging.notify.listener import (
    BatchNotificationServer,
    NotificationServer,
    get_batch_notification_listener,
    get_notification_listener,
)
from svcframe.messaging.notify.notifier import Notifier, get_notification_transport

__all__ = [
    "Notifier",
    "get_notification_transport",
    "get_notification_listener",
    "get_batch_notification_listener",
    "NotificationResult",
    "NotificationFilter",
    "NotificationServer",
    "BatchNotificationServer",
]
