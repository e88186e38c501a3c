"""TLS to the broker (through a TLS-terminating proxy): verified, with hostname checking."""

import logging
import time
import traceback

import pytest
from conftest import new_conf
from rpc_endpoints import Recorder

from svcframe import messaging

pytestmark = pytest.mark.rabbit

PASSWORD = "s3cr3t-Pw"


def tls_conf(ca_file):
    return new_conf(ssl=True, ssl_ca_file=ca_file)


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


@pytest.mark.parametrize("failure", ["unknown CA", "wrong hostname"])
def test_unverifiable_certificate_fails_clearly(
    rpc, topic, tls_material, tls_proxy, caplog, failure
):
    caplog.set_level(logging.DEBUG)
    if failure == "unknown CA":
        proxy, ca_file = tls_proxy(), tls_material.other_ca_file
    else:
        proxy, ca_file = tls_proxy(tls_material.wrong_host), tls_material.ca_file
    transport = rpc.transport(
        f"rabbit://guest:{PASSWORD}@localhost:{proxy.port}/", conf=tls_conf(ca_file)
    )
    client = rpc.client(transport, topic, timeout=3, retry=0)

    start = time.monotonic()
    with pytest.raises(messaging.MessagingException) as cast:
        client.cast({}, "record", value=1)
    with pytest.raises(messaging.MessagingException) as call:
        client.call({}, "echo", value=1)

    assert time.monotonic() - start < 5
    assert "CERTIFICATE_VERIFY_FAILED" in str(cast.value)
    assert proxy.handshakes == 0
    for info in (cast, call):
        assert isinstance(info.value, (messaging.TransportUnavailable, messaging.MessagingTimeout))
        assert PASSWORD not in "".join(traceback.format_exception(info.value))
    assert not [r for r in caplog.records if PASSWORD in r.getMessage()]
