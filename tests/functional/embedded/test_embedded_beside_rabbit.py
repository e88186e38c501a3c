"""One process on two transports: the embedded one and RabbitMQ on 127.0.0.1:5672.

A tool, a bridge or a test may talk over both; publishing on one must
leave the other untouched.
"""

import os
import socket
import uuid

import pytest
from oslo_config import cfg

from svcframe import messaging
from svcframe.conf import register_messaging_opts

pytestmark = pytest.mark.rabbit

RABBIT_HOST = os.environ.get("SVCFRAME_TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_PORT = int(os.environ.get("SVCFRAME_TEST_RABBIT_PORT", "5672"))


class _Echo:
    target = messaging.Target(version="1.0")

    def echo(self, ctxt, value):
        return value


def _serve(transport, topic):
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic=topic, server="s1"), [_Echo()], executor="threading"
    )
    server.start()
    return server


def test_an_embedded_publish_leaves_rabbit_publishes_working(tmp_path):
    try:
        socket.create_connection((RABBIT_HOST, RABBIT_PORT), timeout=2).close()
    except OSError:
        pytest.skip("RabbitMQ is not reachable")
    conf = cfg.ConfigOpts()
    conf(args=[], project="svcframe-test", default_config_files=[])
    register_messaging_opts(conf)
    conf.set_override("state_path", str(tmp_path / "state"))
    conf.set_override("rpc_response_timeout", 20)
    embedded = messaging.get_rpc_transport(conf, "embedded://")
    rabbit = messaging.get_rpc_transport(conf, f"rabbit://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/")
    topic = f"beside-{uuid.uuid4().hex}"
    servers = [_serve(embedded, topic), _serve(rabbit, topic)]
    try:
        for transport in (embedded, rabbit, embedded, rabbit):
            client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
            assert client.call({}, "echo", value=transport.url) == transport.url
            client.cast({}, "echo", value="cast")
    finally:
        for server in servers:
            server.stop()
            server.wait()
        embedded.cleanup()
        rabbit.cleanup()
