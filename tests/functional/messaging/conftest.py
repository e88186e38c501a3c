"""Fixtures for the RPC tests against the real RabbitMQ on 127.0.0.1:5672.

Every test gets its own topic names and its own ConfigOpts.  What a test
creates on the broker (servers' queues, reply queues, durable exchanges)
is deleted when it ends, so that reruns and other suites see a clean
broker.  The broker address can be changed with SVCFRAME_TEST_RABBIT_HOST
and SVCFRAME_TEST_RABBIT_PORT.
"""

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid

import kombu
import pytest
from oslo_config import cfg
from tls_proxy import (
    TLSProxy,
    make_ca,
    make_client_certificate,
    make_self_signed_certificate,
    make_server_certificate,
)

from svcframe import messaging
from svcframe.conf import register_messaging_opts
from svcframe.testing import WaitTimeout, wait_until

RABBIT_HOST = os.environ.get("SVCFRAME_TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_PORT = int(os.environ.get("SVCFRAME_TEST_RABBIT_PORT", "5672"))
RABBIT_URL = f"rabbit://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/"
AMQP_URL = f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}//"
CONTROL_EXCHANGE = "openstack"

HERE = os.path.dirname(os.path.abspath(__file__))

# Leftovers of a test that died before its cleanup expire within minutes.
TRANSIENT_QUEUES_TTL = 300


def rabbit_reachable(timeout=20):
    """Whether the broker accepts TCP connections, waiting out a restart in progress."""
    try:
        wait_until(
            lambda: socket.create_connection((RABBIT_HOST, RABBIT_PORT), timeout=2).close() or True,
            timeout,
            interval=0.2,
            ignore=OSError,
        )
    except WaitTimeout:
        return False
    return True


@pytest.fixture(autouse=True)
def _require_rabbit(request):
    # A test on a private node of its own does not need the shared broker.
    if "private_broker" not in request.fixturenames and not rabbit_reachable():
        pytest.skip(f"RabbitMQ is not reachable on {RABBIT_HOST}:{RABBIT_PORT}")


def unique(prefix):
    return f"{prefix}_{uuid.uuid4().hex}"


def new_conf(rpc_response_timeout=10, **rabbit_overrides):
    """A private ConfigOpts with the messaging options and the given rabbit overrides."""
    conf = cfg.ConfigOpts()
    register_messaging_opts(conf)
    conf([], project="svcframe-tests", default_config_files=[], default_config_dirs=[])
    conf.set_override("rpc_response_timeout", rpc_response_timeout)
    rabbit_overrides.setdefault("rabbit_transient_queues_ttl", TRANSIENT_QUEUES_TTL)
    for name, value in rabbit_overrides.items():
        conf.set_override(name, value, group="oslo_messaging_rabbit")
    return conf


def envelope(inner):
    """An AMQP body as oslo.messaging writes it: the v2.0 envelope around a JSON string."""
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)})


def raw_request(method="echo", args=None, msg_id=None, reply_q=None, **extra):
    """An inner request dict as a client builds it; a call when msg_id and reply_q are given."""
    inner = {"method": method, "args": {} if args is None else args}
    inner.update(extra)
    if msg_id is not None:
        inner.update(_msg_id=msg_id, _reply_q=reply_q, _timeout=None)
    inner["_unique_id"] = uuid.uuid4().hex
    return inner


def decode_reply(body):
    """(inner reply dict, failure dict or None) of a reply body."""
    outer = json.loads(body)
    assert outer["oslo.version"] == "2.0"
    inner = json.loads(outer["oslo.message"])
    failure = json.loads(inner["failure"]) if inner.get("failure") else None
    return inner, failure


def reply_queue_name(transport):
    """The name of the reply queue a transport declared for its calls, if any."""
    waiter = getattr(transport._driver, "_reply_waiter", None)
    return getattr(waiter, "queue_name", None)


def rabbitmqctl(*args, timeout=30):
    """Run rabbitmqctl; its stdout.  Skips the test when the command is not available."""
    try:
        result = subprocess.run(
            ["rabbitmqctl", *args], capture_output=True, text=True, timeout=timeout
        )
    except FileNotFoundError:
        pytest.skip("rabbitmqctl is not installed")
    if result.returncode != 0:
        raise AssertionError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def queues_starting_with(prefix):
    listing = rabbitmqctl("list_queues", "-q", "--no-table-headers", "name")
    return [name for name in listing.split() if name.startswith(prefix)]


class RawReplyQueue:
    """An exclusive queue on the admin connection, standing in for a caller's reply queue."""

    def __init__(self, admin, name):
        self.admin = admin
        self.name = name

    def get(self, timeout=5.0):
        """The next message body on the queue; AssertionError if none comes within ``timeout``."""
        message = wait_until(
            lambda: self.admin.channel.basic_get(self.name, no_ack=True),
            timeout,
            interval=0.01,
            message=f"a message on {self.name}",
        )
        return message.body

    def get_reply(self, timeout=5.0):
        return decode_reply(self.get(timeout))

    def assert_empty(self):
        message = self.admin.channel.basic_get(self.name, no_ack=True)
        assert message is None, f"unexpected message on {self.name}: {message.body!r}"


class RabbitAdmin:
    """A plain kombu connection for what clients and servers do not: raw publishes, cleanup."""

    def __init__(self, url=AMQP_URL):
        self.url = url
        self._connect()

    def _connect(self):
        self.conn = kombu.Connection(self.url, connect_timeout=5)
        self.conn.connect()
        self.channel = self.conn.channel()

    def _fresh_channel(self):
        # A failed passive declare or delete closes its channel; keep the main one usable.
        try:
            return self.conn.channel()
        except Exception:  # noqa: BLE001 - the broker restarted under us: connect again
            _close_quietly(self.conn)
            self._connect()
            return self.conn.channel()

    def publish(self, routing_key, body, exchange=CONTROL_EXCHANGE, **properties):
        """Publish ``body`` as is (content type application/json unless given)."""
        content_type = properties.pop("content_type", "application/json")
        if isinstance(body, str):
            body = body.encode("utf-8")
        message = self.channel.prepare_message(body, content_type=content_type, **properties)
        self.channel.basic_publish(message, exchange=exchange, routing_key=routing_key)

    def reply_queue(self):
        name = unique("reply_raw")
        kombu.Queue(name, exclusive=True, auto_delete=True)(self.channel).declare()
        return RawReplyQueue(self, name)

    def queue_info(self, name):
        """(message count, consumer count) of queue ``name``, or None if it does not exist."""
        channel = self._fresh_channel()
        try:
            _, messages, consumers = channel.queue_declare(name, passive=True)
            return messages, consumers
        except Exception:  # noqa: BLE001 - NOT_FOUND closes the channel
            return None
        finally:
            _close_quietly(channel)

    def queue_exists(self, name):
        return self.queue_info(name) is not None

    def delete_queue(self, name):
        channel = self._fresh_channel()
        try:
            channel.queue_delete(name)
        except Exception:  # noqa: BLE001 - already gone
            pass
        finally:
            _close_quietly(channel)

    def delete_exchange(self, name):
        channel = self._fresh_channel()
        try:
            channel.exchange_delete(name)
        except Exception:  # noqa: BLE001 - already gone
            pass
        finally:
            _close_quietly(channel)

    def close(self):
        _close_quietly(self.conn)


def _close_quietly(resource):
    try:
        resource.close()
    except Exception:  # noqa: BLE001 - cleanup of something already broken
        pass


class RPCHarness:
    """Creates transports, servers and clients for a test, and removes all of them afterwards."""

    def __init__(self, admin, conf, url=RABBIT_URL):
        self.admin = admin
        self.conf = conf
        self.url = url
        self._transports = []
        self._servers = []
        self._queues = set()
        self._exchanges = set()

    def transport(self, url=None, conf=None, allowed_remote_exmods=None):
        transport = messaging.get_rpc_transport(
            conf or self.conf, url or self.url, allowed_remote_exmods=allowed_remote_exmods
        )
        self._transports.append(transport)
        return transport

    def server(
        self,
        transport,
        topic,
        endpoints,
        server="server-1",
        exchange=None,
        serializer=None,
        access_policy=None,
    ):
        """A started RPC server on (topic, server); stopped and its queues deleted at the end."""
        target = messaging.Target(topic=topic, server=server, exchange=exchange)
        rpc_server = messaging.get_rpc_server(
            transport, target, endpoints, serializer=serializer, access_policy=access_policy
        )
        self._servers.append((rpc_server, endpoints))
        self.forget_queues(topic, f"{topic}.{server}")
        if exchange is not None:
            self.forget_exchanges(exchange)
        self.forget_exchanges(f"{topic}_fanout")
        rpc_server.start()
        return rpc_server

    def client(self, transport, topic, **kwargs):
        target_kwargs = {
            key: kwargs.pop(key)
            for key in ("server", "fanout", "namespace", "version", "exchange")
            if key in kwargs
        }
        target = messaging.Target(topic=topic, **target_kwargs)
        return messaging.get_rpc_client(transport, target, **kwargs)

    def forget_queues(self, *names):
        """Delete these queues when the test ends."""
        self._queues.update(names)

    def forget_exchanges(self, *names):
        """Delete these exchanges when the test ends."""
        self._exchanges.update(names)

    def stop_server(self, rpc_server):
        for endpoints in [e for s, e in self._servers if s is rpc_server]:
            _release(endpoints)
        rpc_server.stop()
        rpc_server.wait()

    def close(self):
        for rpc_server, endpoints in self._servers:
            _release(endpoints)
            try:
                rpc_server.stop()
                rpc_server.wait()
            except Exception:  # noqa: BLE001 - keep cleaning up the rest
                pass
        for transport in self._transports:
            name = reply_queue_name(transport)
            if name:
                self._queues.add(name)
            try:
                transport.cleanup()
            except Exception:  # noqa: BLE001 - keep cleaning up the rest
                pass
        for name in self._queues:
            self.admin.delete_queue(name)
        for name in self._exchanges:
            self.admin.delete_exchange(name)


def _release(endpoints):
    for endpoint in endpoints:
        release = getattr(endpoint, "release", None)
        if release is not None:
            release.set()


class ServerProcess:
    """rpc_server_process.py in a child process, with its stdout readable line by line."""

    def __init__(self, url, topic, server):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "rpc_server_process.py"), url, topic, server],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._lines.put(line.strip())

    def expect(self, line, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                got = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the server process did not print {line!r} in {timeout} s")
            if got == line:
                return

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)

    def close(self):
        if self.proc.poll() is None:
            self.kill()
        self.proc.stdin.close()
        self.proc.stdout.close()


@pytest.fixture
def server_process(rpc):
    """Start ``rpc_server_process.py`` for (url, topic, server); killed at the end."""
    processes = []

    def start(url, topic, server="server-1"):
        rpc.forget_queues(topic, f"{topic}.{server}")
        process = ServerProcess(url, topic, server)
        processes.append((process, topic))
        process.expect("ready", timeout=20)
        return process

    yield start
    for process, topic in processes:
        process.close()
        # A killed server leaves its fanout queue behind.
        rpc.forget_queues(*queues_starting_with(f"{topic}_fanout_"))


@pytest.fixture
def topic():
    return unique("sftest")


@pytest.fixture
def conf():
    return new_conf()


@pytest.fixture
def rabbit_admin():
    admin = RabbitAdmin()
    yield admin
    admin.close()


@pytest.fixture
def rpc(rabbit_admin, conf):
    harness = RPCHarness(rabbit_admin, conf)
    yield harness
    harness.close()


class TLSMaterial:
    """Two unrelated CAs, certificates signed by the first, and a self-signed one.

    Server certificates: ``server`` for 127.0.0.1 and localhost,
    ``localhost_only`` (DNS:localhost), ``ip_only`` (IP:127.0.0.1),
    ``wrong_host`` (elsewhere.example), ``untrusted`` (self-signed, for
    127.0.0.1 and localhost).  Client certificates: ``client`` signed by the
    first CA, ``untrusted_client`` by the other.
    """

    def __init__(self, directory):
        self.ca = make_ca(directory, "test-ca")
        self.other_ca = make_ca(directory, "other-ca")
        self.server = make_server_certificate(
            directory, "broker", self.ca, "IP:127.0.0.1,DNS:localhost"
        )
        self.wrong_host = make_server_certificate(
            directory, "elsewhere", self.ca, "DNS:elsewhere.example"
        )
        self.localhost_only = make_server_certificate(
            directory, "localhost-only", self.ca, "DNS:localhost"
        )
        self.ip_only = make_server_certificate(directory, "ip-only", self.ca, "IP:127.0.0.1")
        self.untrusted = make_self_signed_certificate(
            directory, "impostor", "IP:127.0.0.1,DNS:localhost"
        )
        self.client = make_client_certificate(directory, "svc-client", self.ca)
        self.untrusted_client = make_client_certificate(directory, "stranger", self.other_ca)

    @property
    def ca_file(self):
        return self.ca[0]

    @property
    def other_ca_file(self):
        return self.other_ca[0]


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory):
    if subprocess.run(["which", "openssl"], capture_output=True).returncode != 0:
        pytest.skip("the openssl command is needed to make test certificates")
    return TLSMaterial(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def tls_proxy(tls_material):
    """Start a TLS proxy to the broker presenting ``certificate`` (default: the broker's)."""
    proxies = []

    def start(certificate=None, client_ca=None):
        cert, key = certificate or tls_material.server
        proxy = TLSProxy(cert, key, (RABBIT_HOST, RABBIT_PORT), client_ca=client_ca)
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.close()
