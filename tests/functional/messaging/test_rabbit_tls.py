"""TLS to the broker (through a TLS-terminating proxy): always verified, host name as written.

Every refused connection is followed by a call over a verified connection
to a server that was already running: a refused impostor costs nothing
but its own attempt.
"""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import traceback

import pytest
from conftest import new_conf, unique
from rpc_endpoints import Recorder

from svcframe import messaging
from svcframe.testing import wait_until

pytestmark = pytest.mark.rabbit

PASSWORD = "s3cr3t-Pw"


def tls_conf(ca_file=None, **overrides):
    if ca_file is not None:
        overrides["ssl_ca_file"] = ca_file
    return new_conf(ssl=True, **overrides)


def test_call_over_tls_with_a_verified_certificate(rpc, topic, tls_material, tls_proxy):
    proxy = tls_proxy()
    transport = rpc.transport(
        f"rabbit://guest:guest@localhost:{proxy.port}/", conf=tls_conf(tls_material.ca_file)
    )
    recorder = Recorder()
    rpc.server(transport, topic, [recorder])
    client = rpc.client(transport, topic, timeout=10)

    assert client.call({}, "echo", value="over TLS") == "over TLS"
    client.cast({}, "record", value="cast over TLS")
    assert recorder.wait_for_records(1, timeout=5) == ["cast over TLS"]
    # Server, reply waiter and publisher each connected through the proxy.
    assert proxy.handshakes >= 3
    assert proxy.failed_handshakes == 0


@pytest.fixture
def serving(rpc, topic, tls_material, tls_proxy):
    """A server reached over verified TLS; ``serving()`` asserts it still answers."""
    proxy = tls_proxy()
    transport = rpc.transport(
        f"rabbit://guest:guest@localhost:{proxy.port}/", conf=tls_conf(tls_material.ca_file)
    )
    rpc.server(transport, topic, [Recorder()])
    client = rpc.client(transport, topic, timeout=20)
    assert client.call({}, "echo", value="before") == "before"

    def still_serves():
        value = unique("after")
        assert client.call({}, "echo", value=value) == value

    return still_serves


def assert_refused(rpc, topic, url, conf, reason, caplog):
    """A cast and a call over ``url`` both fail fast, naming ``reason``, leaking no password."""
    caplog.set_level(logging.DEBUG)
    transport = rpc.transport(url, conf=conf)
    client = rpc.client(transport, topic, timeout=3, retry=0)

    start = time.monotonic()
    with pytest.raises(messaging.MessagingException) as cast:
        client.cast({}, "record", value=1)
    with pytest.raises(messaging.MessagingException) as call:
        client.call({}, "echo", value=1)

    assert time.monotonic() - start < 10
    assert reason in str(cast.value)
    for info in (cast, call):
        assert isinstance(info.value, (messaging.TransportUnavailable, messaging.MessagingTimeout))
        assert PASSWORD not in "".join(traceback.format_exception(info.value))
    assert not [r for r in caplog.records if PASSWORD in r.getMessage()]


@pytest.mark.parametrize("failure", ["unknown CA", "wrong hostname"])
def test_unverifiable_certificate_fails_clearly(
    rpc, topic, tls_material, tls_proxy, caplog, serving, failure
):
    if failure == "unknown CA":
        proxy, ca_file = tls_proxy(), tls_material.other_ca_file
    else:
        proxy, ca_file = tls_proxy(tls_material.wrong_host), tls_material.ca_file
    url = f"rabbit://guest:{PASSWORD}@localhost:{proxy.port}/"

    assert_refused(rpc, topic, url, tls_conf(ca_file), "CERTIFICATE_VERIFY_FAILED", caplog)

    assert proxy.handshakes == 0
    serving()


@pytest.mark.parametrize("ssl_version", [None, "tlsv1_2", "TLSv1_2", "sslv23"])
def test_untrusted_certificate_is_refused_without_a_ca_file(
    rpc, topic, tls_material, tls_proxy, caplog, serving, ssl_version
):
    # No ssl_ca_file: the system CA store decides, and it does not trust a
    # self-signed certificate, whatever protocol version is pinned.
    proxy = tls_proxy(tls_material.untrusted)
    query = "?ssl=1" + (f"&ssl_version={ssl_version}" if ssl_version else "")
    url = f"rabbit://guest:{PASSWORD}@localhost:{proxy.port}/{query}"

    assert_refused(rpc, topic, url, new_conf(), "CERTIFICATE_VERIFY_FAILED", caplog)

    assert proxy.handshakes == 0
    serving()


@pytest.mark.parametrize("ssl_version", [None, "tlsv1_2"])
def test_the_host_name_is_checked_with_a_ca_file_and_ssl_version(
    rpc, topic, tls_material, tls_proxy, caplog, serving, ssl_version
):
    proxy = tls_proxy(tls_material.wrong_host)
    conf = tls_conf(tls_material.ca_file, ssl_version=ssl_version or "")
    url = f"rabbit://guest:{PASSWORD}@localhost:{proxy.port}/"

    reason = "Hostname mismatch, certificate is not valid for 'localhost'"
    assert_refused(rpc, topic, url, conf, reason, caplog)

    assert proxy.handshakes == 0
    serving()


def test_the_host_name_is_checked_as_written_not_as_resolved(
    rpc, topic, tls_material, tls_proxy, caplog, serving
):
    # 127.0.0.1 is where localhost points, but a certificate for
    # DNS:localhost does not name 127.0.0.1.
    proxy = tls_proxy(tls_material.localhost_only)
    url = f"rabbit://guest:{PASSWORD}@127.0.0.1:{proxy.port}/"

    assert_refused(rpc, topic, url, tls_conf(tls_material.ca_file), "IP address mismatch", caplog)

    serving()


@pytest.mark.parametrize("ssl_version", [None, "tlsv1_2"])
def test_a_localhost_url_matches_a_localhost_certificate(
    rpc, topic, tls_material, tls_proxy, ssl_version
):
    proxy = tls_proxy(tls_material.localhost_only)
    query = f"?ssl=1&ssl_ca_file={tls_material.ca_file}"
    if ssl_version:
        query += f"&ssl_version={ssl_version}"
    transport = rpc.transport(f"rabbit://guest:guest@localhost:{proxy.port}/{query}", new_conf())
    rpc.server(transport, topic, [Recorder()])
    client = rpc.client(transport, topic, timeout=20)

    assert client.call({}, "echo", value="localhost") == "localhost"
    assert proxy.failed_handshakes == 0
    if ssl_version:
        assert proxy.versions == {"TLSv1.2"}


# oslo.messaging runs in its own process (importing it selects oslo.service's
# eventlet backend); this is its rabbit driver's client, nothing more.
OSLO_MESSAGING_CALL = """
import sys
from oslo_config import cfg
import oslo_messaging
conf = cfg.CONF  # where oslo.messaging registers its metrics and tracing options
conf([], project="tls-check", default_config_files=[], default_config_dirs=[])
transport = oslo_messaging.get_rpc_transport(conf, sys.argv[1])
target = oslo_messaging.Target(topic=sys.argv[2])
client = oslo_messaging.get_rpc_client(transport, target, timeout=20)
print(client.call({}, "echo", value="from oslo.messaging"))
transport.cleanup()
"""


def test_oslo_messaging_and_svcframe_accept_the_same_localhost_url(
    rpc, topic, tls_material, tls_proxy
):
    proxy = tls_proxy(tls_material.localhost_only)
    url = (
        f"rabbit://guest:guest@localhost:{proxy.port}/"
        f"?ssl=1&ssl_ca_file={tls_material.ca_file}&rabbit_transient_queues_ttl=300"
    )
    transport = rpc.transport(url, new_conf())
    rpc.server(transport, topic, [Recorder()])
    assert rpc.client(transport, topic, timeout=20).call({}, "echo", value="svc") == "svc"

    oslo = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", OSLO_MESSAGING_CALL, url, topic],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert oslo.returncode == 0, oslo.stderr[-3000:]
    assert oslo.stdout.strip() == "from oslo.messaging"


def _unused_port():
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


def test_each_failover_host_is_checked_against_its_own_name(rpc, topic, tls_material, tls_proxy):
    # The first host refuses TCP, the second is the broker with a
    # certificate for DNS:localhost only: whichever order the hosts are
    # tried in, the second is checked against "localhost", not against the
    # host tried before it.
    proxy = tls_proxy(tls_material.localhost_only)
    url = f"rabbit://guest:guest@127.0.0.1:{_unused_port()},guest:guest@localhost:{proxy.port}/"
    conf = tls_conf(tls_material.ca_file)
    conf.set_override("rabbit_retry_interval", 1, group="oslo_messaging_rabbit")
    for _ in range(4):
        transport = rpc.transport(url, conf=conf)
        client = rpc.client(transport, topic, timeout=10, retry=3)
        client.cast({}, "record", value="through failover")
        transport.cleanup()

    assert proxy.handshakes == 4
    assert proxy.failed_handshakes == 0


def test_a_client_certificate_is_presented_when_the_broker_requires_one(
    rpc, topic, tls_material, tls_proxy, caplog, serving
):
    proxy = tls_proxy(client_ca=tls_material.ca_file)
    url = f"rabbit://guest:{PASSWORD}@localhost:{proxy.port}/"

    # No certificate, then one the broker does not trust: both refused.
    for client_cert in (None, tls_material.untrusted_client):
        overrides = {}
        if client_cert:
            overrides = {"ssl_cert_file": client_cert[0], "ssl_key_file": client_cert[1]}
        assert_refused(
            rpc, topic, url, tls_conf(tls_material.ca_file, **overrides), "Unable to", caplog
        )
    assert proxy.handshakes == 0
    assert proxy.client_names == []

    cert, key = tls_material.client
    conf = tls_conf(tls_material.ca_file, ssl_cert_file=cert, ssl_key_file=key)
    transport = rpc.transport(f"rabbit://guest:guest@localhost:{proxy.port}/", conf=conf)
    rpc.server(transport, topic, [Recorder()], server="with-client-cert")
    client = rpc.client(transport, topic, server="with-client-cert", timeout=20)
    assert client.call({}, "echo", value="mutual TLS") == "mutual TLS"
    assert proxy.client_names and set(proxy.client_names) == {"svc-client"}
    serving()


def test_turning_verification_off_is_explicit_and_warned_about(
    rpc, topic, tls_material, tls_proxy, caplog, serving
):
    caplog.set_level(logging.WARNING, logger="svcframe")
    proxy = tls_proxy(tls_material.untrusted)
    url = f"rabbit://guest:guest@localhost:{proxy.port}/"
    transport = rpc.transport(url, conf=tls_conf(ssl_insecure_skip_verify=True))

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "does not verify the broker's certificate" in warnings[0].getMessage()
    assert "ssl_insecure_skip_verify" in warnings[0].getMessage()

    rpc.server(transport, topic, [Recorder()], server="unverified")
    client = rpc.client(transport, topic, server="unverified", timeout=20)
    assert client.call({}, "echo", value="unverified") == "unverified"
    assert proxy.handshakes >= 1
    serving()


def test_turning_the_host_name_check_off_still_verifies_the_chain(
    rpc, topic, tls_material, tls_proxy, caplog, serving
):
    caplog.set_level(logging.WARNING, logger="svcframe")
    wrong_host = tls_proxy(tls_material.wrong_host)
    conf = tls_conf(tls_material.ca_file, ssl_enforce_hostname_verification=False)
    transport = rpc.transport(f"rabbit://guest:guest@localhost:{wrong_host.port}/", conf=conf)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "does not check the broker's host name" in warnings[0]

    client = rpc.client(transport, topic, timeout=10, retry=0)
    client.cast({}, "record", value="name not checked")
    assert wrong_host.handshakes >= 1

    untrusted = tls_proxy(tls_material.untrusted)
    url = f"rabbit://guest:{PASSWORD}@localhost:{untrusted.port}/"
    assert_refused(rpc, topic, url, conf, "CERTIFICATE_VERIFY_FAILED", caplog)
    assert untrusted.handshakes == 0
    serving()


BIN = os.path.dirname(sys.executable)


class LaunchedConductor:
    """``svc-launch --binary conductor`` over TLS, one worker, with its own exchange and state."""

    def __init__(self, directory, url):
        os.makedirs(os.path.join(directory, "state"), mode=0o700)
        self.exchange = unique("tls_launch")
        self.host = unique("tls-host")
        self.config = os.path.join(directory, "svc.conf")
        with open(self.config, "w") as f:
            f.write(
                f"[DEFAULT]\ntransport_url = {url}\ncontrol_exchange = {self.exchange}\n"
                f"host = {self.host}\nstate_path = {directory}/state\n"
                "[oslo_messaging_rabbit]\nrabbit_transient_queues_ttl = 300\n"
                "[conductor]\nworkers = 1\n"
            )
        self.log = os.path.join(directory, "svc.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [os.path.join(BIN, "svc-launch"), "--binary", "conductor"]
                + ["--config-file", self.config],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def output(self):
        with open(self.log) as f:
            return f.read()

    def wait_for(self, text, timeout=60):
        """Wait until ``text`` is in the log; AssertionError if the process exits first."""

        def logged():
            found = text in self.output()
            assert found or self.proc.poll() is None, f"exited:\n{self.output()[-4000:]}"
            return found

        wait_until(
            logged,
            timeout,
            interval=0.1,
            message=lambda: f"{text!r} in the service log:\n{self.output()[-4000:]}",
        )

    def manage(self, *args):
        return subprocess.run(
            [os.path.join(BIN, "svc-manage"), "--config-file", self.config, *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


@pytest.fixture
def launched(tmp_path, rabbit_admin):
    services = []

    def launch(name, url):
        directory = tmp_path / name
        directory.mkdir()
        service = LaunchedConductor(str(directory), url)
        services.append(service)
        return service

    yield launch
    for service in services:
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait(10)
        # "conductor" is shared by every test's conductors: only its bindings
        # to this exchange are ours, and they go with the exchange.
        rabbit_admin.delete_queue(f"conductor.{service.host}")
        rabbit_admin.delete_exchange(service.exchange)


@pytest.mark.slow
def test_a_launched_service_refuses_an_impostor_and_warns_when_told_to_trust_it(
    tls_material, tls_proxy, launched
):
    impostor = tls_proxy(tls_material.untrusted)
    url = f"rabbit://guest:{PASSWORD}@localhost:{impostor.port}/?ssl=1&ssl_version=tlsv1_2"
    refused = launched("refused", url)
    assert refused.proc.wait(60) == 3
    output = refused.output()
    assert "CERTIFICATE_VERIFY_FAILED" in output
    assert "Service failed to start" in output
    assert PASSWORD not in output
    assert impostor.handshakes == 0

    url = f"rabbit://guest:guest@localhost:{impostor.port}/?ssl=1&ssl_insecure_skip_verify=true"
    trusting = launched("trusting", url)
    trusting.wait_for("Service ready")
    [warning] = [line for line in trusting.output().splitlines() if " WARNING " in line]
    assert "does not verify the broker's certificate" in warning
    described = trusting.manage(
        "rpc", "call", "conductor", "describe", "--server", trusting.host, "--format", "json"
    )
    assert described.returncode == 0, described.stderr
    assert json.loads(described.stdout)
    # svc-manage prints only its own error unless asked for its log.
    assert described.stderr == ""
    debugged = trusting.manage(
        "--debug", "rpc", "call", "conductor", "describe", "--server", trusting.host
    )
    assert debugged.returncode == 0, debugged.stderr
    assert "does not verify the broker's certificate" in debugged.stderr
    assert trusting.stop() == 0
