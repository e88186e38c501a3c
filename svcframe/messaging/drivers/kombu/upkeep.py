"""The publisher's upkeep thread: what a publisher must do while nobody publishes.

With publisher confirms, acks, nacks and returns arrive whether or not a
thread publishes; heartbeats must go out on an idle connection; returned
messages wait to be sent again (see ``returns``).  One daemon thread per
publisher does all three: it sleeps until the next heartbeat while there
is nothing to read, and polls every ``IDLE_DRAIN_INTERVAL`` while
confirms or re-sends are outstanding.
"""

import logging
import threading
import time

from svcframe.messaging import exceptions

__all__ = ["PublisherUpkeep"]

LOG = logging.getLogger(__name__)

# How long an idle publisher may leave acks and returns unread.
IDLE_DRAIN_INTERVAL = 0.05
# Attempts to connect for a message sent again: the upkeep thread must not
# wait forever on a broker that is gone.
RESEND_RETRY = 3


class PublisherUpkeep(threading.Thread):
    """Reads confirms while idle, sends heartbeats, re-sends returned replies and casts."""

    def __init__(self, publisher, wakeup):
        super().__init__(name="svcframe-publisher", daemon=True)
        self.publisher = publisher
        self._wakeup = wakeup
        # Waiting for a heartbeat, not for acks: a publish must wake it.
        self.idle = True

    def run(self):
        publisher = self.publisher
        heartbeat_every = publisher.driver.heartbeat_check_interval
        last_heartbeat = time.monotonic()
        while not publisher.closed:
            # idle is set before looking at the queues: a publish that adds
            # an unconfirmed message after that look sees idle and wakes us.
            self.idle = True
            busy = publisher.busy
            if busy:
                self.idle = False
            self._wakeup.wait(IDLE_DRAIN_INTERVAL if busy else (heartbeat_every or None))
            self.idle = False
            self._wakeup.clear()
            if publisher.closed:
                return
            due, last_heartbeat = publisher.tend(heartbeat_every, last_heartbeat)
            for outgoing in due:
                try:
                    publisher.publish(outgoing, retry=RESEND_RETRY)
                except exceptions.MessagingException as exc:
                    LOG.warning(
                        "Could not re-send a %s to %s: %s", outgoing.kind, outgoing.routing_key, exc
                    )
