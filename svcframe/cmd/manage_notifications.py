"""svc-manage notifications: print notifications as they arrive, a tail -f for operators.

    svc-manage --config-file svc.conf notifications listen
    svc-manage --config-file svc.conf notifications listen --event-type 'task.*' --format json

Listens on ``[oslo_messaging_notifications] topics`` (or ``--topic``) over
its transport, on queues of its own that go away when it exits: it sees
every notification and takes none from the services that consume them.
"""

import fnmatch
import json
import sys
import threading
import uuid

from svcframe import messaging
from svcframe.cmd.groups import add_command, add_group

__all__ = ["add_parser"]

PRIORITIES = ("audit", "debug", "info", "warn", "error", "critical", "sample")


def add_parser(subparsers):
    commands = add_group(
        subparsers,
        "notifications",
        help="watch the notifications services emit",
        description="Watch notifications over [oslo_messaging_notifications] transport_url "
        "(default: [DEFAULT] transport_url).",
    )
    listen = add_command(
        commands,
        "listen",
        listen_notifications,
        help="print notifications as they arrive, until interrupted",
        description="Print each notification as it arrives (one line each), until Ctrl-C.",
    )
    listen.add_argument(
        "--event-type",
        metavar="PATTERN",
        help="only event types matching this shell-style pattern, e.g. 'task.*'",
    )
    listen.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="TOPIC",
        help="listen on this topic; repeatable ([oslo_messaging_notifications] topics)",
    )
    listen.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (text)"
    )
    listen.add_argument(
        "--count", type=int, metavar="N", help="exit after printing N notifications"
    )


class _Printer:
    """The listener's endpoint: one method per priority, all printing."""

    def __init__(self, pattern, output, count, done):
        self.pattern = pattern
        self.output = output
        self.remaining = count
        self.done = done
        self._lock = threading.Lock()
        for priority in PRIORITIES:
            setattr(self, priority, self._printer(priority))

    def _printer(self, priority):
        def emit(ctxt, publisher_id, event_type, payload, metadata):
            self.emit(priority, ctxt, publisher_id, event_type, payload, metadata)

        return emit

    def emit(self, priority, ctxt, publisher_id, event_type, payload, metadata):
        if self.pattern and not fnmatch.fnmatchcase(str(event_type), self.pattern):
            return
        with self._lock:
            if self.done.is_set():
                return
            if self.output == "json":
                line = json.dumps(
                    {
                        "timestamp": metadata.get("timestamp"),
                        "priority": priority.upper(),
                        "publisher_id": publisher_id,
                        "event_type": event_type,
                        "payload": payload,
                        "message_id": metadata.get("message_id"),
                    },
                    sort_keys=True,
                    default=str,
                )
            else:
                line = (
                    f"{metadata.get('timestamp')} {priority.upper():<8} {publisher_id} "
                    f"{event_type} {json.dumps(payload, sort_keys=True, default=str)}"
                )
            print(line, flush=True)
            if self.remaining is not None:
                self.remaining -= 1
                if self.remaining <= 0:
                    self.done.set()


def listen_notifications(conf, args):
    transport = messaging.get_notification_transport(conf)
    topics = args.topic or list(conf.oslo_messaging_notifications.topics)
    done = threading.Event()
    printer = _Printer(args.event_type, args.format, args.count, done)
    listener = messaging.get_notification_listener(
        transport,
        [messaging.Target(topic=topic) for topic in topics],
        [printer],
        pool=f"svc-manage-listen-{uuid.uuid4().hex[:12]}",
        exclusive=True,
    )
    listener.start()
    print(f"Listening on {', '.join(topics)} at {transport.url}", file=sys.stderr, flush=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
    return 0
