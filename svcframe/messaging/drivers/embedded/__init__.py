"""The embedded driver: RPC between the processes of one host, with no broker.

Used when ``transport_url`` is unset (or ``embedded://``).  Messages are
files under ``[embedded] data_dir`` (by default ``$state_path/messaging``),
one directory per queue, routed by kombu's virtual exchanges so that
topic, server and fanout routing work exactly as on RabbitMQ.  Consumers
sleep until a message arrives (inotify on Linux).  See ``store`` for the
layout on disk and ``channel`` for what the transport does as a broker.

The data directory is private: created 0700, and refused when it exists
but belongs to another user or others can write to it.
"""

import os

import kombu

from svcframe import statedir
from svcframe.conf import messaging as messaging_conf
from svcframe.messaging.drivers.embedded.channel import Transport
from svcframe.messaging.drivers.embedded.publisher import ThreadLocalPublisher
from svcframe.messaging.drivers.kombu.connection import ReconnectBackoff
from svcframe.messaging.drivers.kombu.driver import KombuDriver

__all__ = ["EmbeddedDriver"]


class EmbeddedDriver(KombuDriver):
    """Broker-less transport for one host (``embedded://`` or no transport_url)."""

    supports_confirms = False
    # Consumers sleep until a message arrives or they are stopped (interrupt).
    drain_timeout = 5.0
    interruptible = True

    def __init__(self, conf, url, default_exchange=None, allowed_remote_exmods=None):
        messaging_conf.register_opts(conf)
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        # embedded:///var/tmp/q names /var/tmp/q: a URL's path is absolute.
        path = (getattr(url, "virtual_host", None) or "").strip("/")
        data_dir = "/" + path if path else conf.embedded.data_dir
        self.data_dir = statedir.ensure_private_dir(os.path.expanduser(data_dir))
        self.safe_url = f"embedded://{self.data_dir}"
        self.polling_interval = conf.embedded.polling_interval
        self._exchanges = {}  # built once per name, not per send

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

    def topic_exchange(self, name):
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = self._exchanges[name] = kombu.Exchange(name, type="topic", durable=False)
        return exchange

    def fanout_exchange(self, topic):
        name = f"{topic}_fanout"
        exchange = self._exchanges.get(name)
        if exchange is None:
            exchange = self._exchanges[name] = kombu.Exchange(name, type="fanout", durable=False)
        return exchange

    def topic_queue(self, name, exchange, routing_key=None):
        return kombu.Queue(name, exchange, routing_key=routing_key or name, durable=False)

    def fanout_queue(self, name, topic):
        # Exclusive: it belongs to this process and goes when it does.
        return kombu.Queue(
            name, self.fanout_exchange(topic), routing_key=topic, durable=False, exclusive=True
        )

    def reply_queue(self, name):
        return kombu.Queue(name, routing_key="", durable=False, exclusive=True)
