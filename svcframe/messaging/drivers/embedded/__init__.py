"""The embedded driver: RPC between the processes of one host, with no broker.

Used when ``transport_url`` is unset (or ``embedded://``).  Messages are
files under ``[embedded] data_dir`` (by default in memory, one directory
per state_path under ``/dev/shm``: see ``location``), one directory per
queue, routed by kombu's virtual exchanges so that topic, server and
fanout routing work exactly as on RabbitMQ.  Consumers
sleep until a message arrives (inotify on Linux).  See ``store`` for the
layout on disk and ``channel`` for what the transport does as a broker.

The data directory is private: created 0700, and refused when it exists
but belongs to another user or others can write to it.
"""

import kombu

from svcframe.conf import messaging as messaging_conf
from svcframe.messaging.drivers.brokerless import BrokerlessDriver
from svcframe.messaging.drivers.embedded import location
from svcframe.messaging.drivers.embedded.channel import Transport
from svcframe.messaging.drivers.embedded.publisher import ThreadLocalPublisher
from svcframe.messaging.drivers.kombu.connection import ReconnectBackoff

__all__ = ["EmbeddedDriver"]


class EmbeddedDriver(BrokerlessDriver):
    """Broker-less transport for one host (``embedded://`` or no transport_url)."""

    # A wake costs a consumer thread more than the ack it would send.
    acks_wake_consumer = False
    # The reply queue's inotify wakes the waiting caller itself.
    callers_read_replies = True

    def __init__(self, conf, url, default_exchange=None, allowed_remote_exmods=None):
        messaging_conf.register_opts(conf)
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        # embedded:///var/tmp/q names /var/tmp/q: a URL's path is absolute.
        path = (getattr(url, "virtual_host", None) or "").strip("/")
        data_dir = "/" + path if path else location.configured_data_dir(conf)
        self.data_dir = location.ensure_private(data_dir)
        self.safe_url = f"embedded://{self.data_dir}"
        self.polling_interval = conf.embedded.polling_interval

    def make_connection(self):
        return kombu.Connection(
            transport=Transport,
            transport_options={
                "data_dir": self.data_dir,
                "polling_interval": self.polling_interval,
            },
        )

    def new_publisher(self):
        return ThreadLocalPublisher(self)

    def new_backoff(self):
        return ReconnectBackoff(0.1, 0.5, 2.0)
