"""Notifier: sends notifications in oslo.messaging's format, through pluggable drivers.

Drivers are loaded by name from the ``svcframe.notify.drivers`` entry
points: ``messagingv2`` (the 2.0 envelope, what nova and cinder use),
``messaging`` (format 1.0, bare), ``log`` and ``noop``.  With no driver
configured (``[oslo_messaging_notifications] driver`` is empty by
default), notifications are not sent at all, as with oslo.messaging.
"""

import datetime
import json
import logging
import uuid

from stevedore import named

from svcframe.messaging.serializer import NoOpSerializer
from svcframe.messaging.target import Target
from svcframe.messaging.transport import NotificationTransport, _get_transport

__all__ = [
    "Notifier",
    "Driver",
    "MessagingDriver",
    "MessagingV2Driver",
    "LogDriver",
    "NoOpDriver",
    "get_notification_transport",
]

LOG = logging.getLogger(__name__)

DRIVER_NAMESPACE = "svcframe.notify.drivers"
_MARKER = object()


def _register(conf):
    from svcframe.conf import notifications

    notifications.register_opts(conf)


def get_notification_transport(conf, url=None, allowed_remote_exmods=None):
    """A NotificationTransport: ``url``, else ``[oslo_messaging_notifications] transport_url``,
    else the RPC transport's URL (``[DEFAULT] transport_url``)."""
    _register(conf)
    if url is None:
        url = conf.oslo_messaging_notifications.transport_url
    return _get_transport(conf, url, allowed_remote_exmods, NotificationTransport)


class Driver:
    """Sends one notification somewhere; ``notify(ctxt, message, priority, retry)``."""

    def __init__(self, conf, topics, transport):
        self.conf = conf
        self.topics = topics
        self.transport = transport

    def notify(self, ctxt, message, priority, retry):
        raise NotImplementedError


class MessagingDriver(Driver):
    """To ``<topic>.<priority>`` on the transport, format 1.0 (no envelope)."""

    version = 1.0

    def notify(self, ctxt, message, priority, retry):
        priority = priority.lower()
        for topic in self.topics:
            target = Target(topic=f"{topic}.{priority}")
            try:
                self.transport._send_notification(
                    target, ctxt, message, version=self.version, retry=retry
                )
            except Exception:
                LOG.exception("Could not send notification to %s. Payload=%s", topic, message)


class MessagingV2Driver(MessagingDriver):
    """To ``<topic>.<priority>`` on the transport, in the 2.0 envelope."""

    version = 2.0


class LogDriver(Driver):
    """To the ``oslo.messaging.notification.<event_type>`` logger, as JSON."""

    def notify(self, ctxt, message, priority, retry):
        logger = logging.getLogger(f"oslo.messaging.notification.{message['event_type']}")
        level = getattr(logging, priority.upper(), None)
        if level is None:
            level = logging.WARNING if priority.upper() == "WARN" else logging.INFO
        logger.log(level, json.dumps(message, default=str))


class NoOpDriver(Driver):
    """Drops every notification."""

    def notify(self, ctxt, message, priority, retry):
        pass


def _sanitize_context(ctxt):
    # As oslo.messaging: a dict (or None) context is not sent; a context
    # object is sent without its secrets.
    if ctxt is None or type(ctxt) is dict:
        return {}
    redacted = getattr(ctxt, "redacted_copy", None)
    if redacted is not None:
        return redacted()
    to_dict = getattr(ctxt, "to_dict", None)
    if to_dict is not None:
        values = to_dict()
        values.pop("auth_token", None)
        return values
    LOG.warning("Cannot redact the context of a notification: sending it without one")
    return {}


def _utcnow_text():
    # str(oslo_utils.timeutils.utcnow()): naive UTC, 'YYYY-MM-DD HH:MM:SS.ffffff'.
    return str(datetime.datetime.now(datetime.UTC).replace(tzinfo=None))


class Notifier:
    """Sends notifications, as oslo.messaging's Notifier::

        notifier = Notifier(get_notification_transport(conf), "conductor.host1",
                            driver="messagingv2", topics=["notifications"])
        notifier.info(ctxt, "task.create", {"task_id": ...})

    ``driver`` and ``topics`` default to ``[oslo_messaging_notifications]``
    ``driver`` and ``topics``; ``retry`` to its ``retry``.  A failure to send
    is logged, never raised to the caller.
    """

    def __init__(
        self, transport, publisher_id=None, driver=None, serializer=None, retry=None, topics=None
    ):
        conf = transport.conf
        _register(conf)
        self.transport = transport
        self.publisher_id = publisher_id
        group = conf.oslo_messaging_notifications
        self.retry = retry if retry is not None else group.retry
        self._driver_names = [driver] if driver is not None else list(group.driver)
        self._topics = list(topics) if topics is not None else list(group.topics)
        self._serializer = serializer or NoOpSerializer()
        self._driver_mgr = named.NamedExtensionManager(
            DRIVER_NAMESPACE,
            names=self._driver_names,
            invoke_on_load=True,
            invoke_args=[conf],
            invoke_kwds={"topics": self._topics, "transport": transport},
        )

    def is_enabled(self):
        """Whether any driver sends notifications (oslo.messaging's name)."""
        return bool(self._driver_mgr.extensions) and self._driver_names != ["noop"]

    def prepare(self, publisher_id=_MARKER, retry=_MARKER):
        """This notifier with another publisher_id or retry; drivers are shared."""
        return _SubNotifier(
            self,
            self.publisher_id if publisher_id is _MARKER else publisher_id,
            self.retry if retry is _MARKER else retry,
        )

    def _notify(self, ctxt, event_type, payload, priority, publisher_id=None, retry=None):
        payload = self._serializer.serialize_entity(ctxt, payload)
        ctxt = self._serializer.serialize_context(_sanitize_context(ctxt))
        message = {
            "message_id": str(uuid.uuid4()),
            "publisher_id": publisher_id or self.publisher_id,
            "event_type": event_type,
            "priority": priority,
            "payload": payload,
            "timestamp": _utcnow_text(),
        }
        for ext in self._driver_mgr.extensions:
            try:
                ext.obj.notify(ctxt, message, priority, retry or self.retry)
            except Exception as exc:
                LOG.exception(
                    "Problem '%s' attempting to send to notification system. Payload=%s",
                    exc,
                    payload,
                )

    def audit(self, ctxt, event_type, payload):
        self._notify(ctxt, event_type, payload, "AUDIT")

    def debug(self, ctxt, event_type, payload):
        self._notify(ctxt, event_type, payload, "DEBUG")

    def info(self, ctxt, event_type, payload):
        self._notify(ctxt, event_type, payload, "INFO")

    def warn(self, ctxt, event_type, payload):
        self._notify(ctxt, event_type, payload, "WARN")

    warning = warn

    def error(self, ctxt, event_type, payload):
        self._notify(ctxt, event_type, payload, "ERROR")

    def critical(self, ctxt, event_type, payload):
        self._notify(ctxt, event_type, payload, "CRITICAL")

    def sample(self, ctxt, event_type, payload):
        self._notify(ctxt, event_type, payload, "SAMPLE")


class _SubNotifier(Notifier):
    """What ``prepare()`` returns: the parent's drivers with its own publisher_id and retry."""

    def __init__(self, base, publisher_id, retry):
        self._base = base
        self.transport = base.transport
        self.publisher_id = publisher_id
        self.retry = retry
        self._driver_names = base._driver_names
        self._topics = base._topics
        self._serializer = base._serializer
        self._driver_mgr = base._driver_mgr
