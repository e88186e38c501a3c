"""The driver contract: the same behaviour tests on fake://, embedded:// and RabbitMQ.

Every test here takes ``rpc``, a harness on one transport; the suite runs
each test once per driver.  RabbitMQ is the one on 127.0.0.1:5672
(SVCFRAME_TEST_RABBIT_HOST / _PORT), with unique topic names, and the
queues a test declared are deleted after it.
"""

import os
import socket
import uuid

import kombu
import pytest
from oslo_config import cfg

from svcframe import messaging
from svcframe.conf import register_messaging_opts

RABBIT_HOST = os.environ.get("SVCFRAME_TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_PORT = int(os.environ.get("SVCFRAME_TEST_RABBIT_PORT", "5672"))

DRIVERS = ["fake", "embedded", pytest.param("rabbit", marks=pytest.mark.rabbit)]


class Harness:
    """Servers and clients on one transport, cleaned up after the test."""

    def __init__(self, driver, tmp_path):
        self.driver = driver
        conf = cfg.ConfigOpts()
        register_messaging_opts(conf)
        conf([], project="svcframe-contract", default_config_files=[], default_config_dirs=[])
        conf.set_override("rpc_response_timeout", 20)
        conf.set_override("state_path", str(tmp_path / "state"))
        conf.set_override("rabbit_transient_queues_ttl", 300, group="oslo_messaging_rabbit")
        self.conf = conf
        if driver == "fake":
            self.url = f"fake:///{uuid.uuid4().hex}"
        elif driver == "embedded":
            self.url = "embedded://"
        else:
            self.url = f"rabbit://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/"
        self.topic = f"contract_{uuid.uuid4().hex}"
        self._transports = []
        self._servers = []
        self._topics = {self.topic}
        self.transport = self.new_transport()

    def new_transport(self, **kwargs):
        transport = messaging.get_rpc_transport(self.conf, self.url, **kwargs)
        self._transports.append(transport)
        return transport

    def serve(self, endpoints, server="s1", topic=None, transport=None):
        topic = topic or self.topic
        self._topics.add(topic)
        srv = messaging.get_rpc_server(
            transport or self.transport,
            messaging.Target(topic=topic, server=server),
            endpoints,
            executor="threading",
        )
        srv.start()
        self._servers.append(srv)
        return srv

    def client(self, transport=None, **target):
        target.setdefault("topic", self.topic)
        self._topics.add(target["topic"])
        return messaging.get_rpc_client(transport or self.transport, messaging.Target(**target))

    def publish_raw(self, body, routing_key=None):
        """A message as a peer that does not follow the wire format would send it."""
        driver = self.transport._driver
        with driver.make_connection() as conn:
            producer = kombu.Producer(conn.channel())
            producer.publish(
                body,
                exchange=driver.topic_exchange(driver.default_exchange),
                routing_key=routing_key or self.topic,
                content_type="application/json",
                content_encoding="utf-8",
                declare=[driver.topic_exchange(driver.default_exchange)],
            )

    def close(self):
        for srv in self._servers:
            srv.stop()
            srv.wait()
        for transport in self._transports:
            transport.cleanup()
        if self.driver == "rabbit":
            with kombu.Connection(f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}//") as conn:
                channel = conn.channel()
                for topic in self._topics:
                    for server in ("s1", "s2", "silent"):
                        for name in (topic, f"{topic}.{server}"):
                            try:
                                channel.queue_delete(name)
                            except Exception:  # noqa: BLE001 - it may not exist
                                channel = conn.channel()


def _rabbit_reachable():
    try:
        socket.create_connection((RABBIT_HOST, RABBIT_PORT), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture(params=DRIVERS)
def rpc(request, tmp_path):
    if request.param == "rabbit" and not _rabbit_reachable():
        pytest.skip(f"RabbitMQ is not reachable on {RABBIT_HOST}:{RABBIT_PORT}")
    harness = Harness(request.param, tmp_path)
    yield harness
    harness.close()
