"""The ssl options the rabbit driver hands to kombu: verifying by default, checked at start."""

import logging
import ssl

import pytest
from oslo_config import cfg

from svcframe.messaging.drivers.rabbit import rabbit_options
from svcframe.messaging.drivers.rabbit_tls import BrokerConnection, ssl_options
from svcframe.messaging.transport import TransportURL

URL = "rabbit://u:secret@broker.example:5671/"


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    conf([], project="svcframe-tests", default_config_files=[], default_config_dirs=[])
    return conf


@pytest.fixture
def pem(tmp_path):
    path = tmp_path / "ca.pem"
    path.write_text("not parsed until a connection is made\n")
    return str(path)


def options(conf, query="", **overrides):
    url = TransportURL.parse(conf, URL + query)
    opts = rabbit_options(conf, url)
    for name, value in overrides.items():
        conf.set_override(name, value, group="oslo_messaging_rabbit")
    return ssl_options(opts, str(url))


def test_no_ssl_means_no_tls(conf):
    assert options(conf) is False


@pytest.mark.parametrize(
    "query", ["?ssl=1", "?ssl=1&ssl_version=tlsv1_2", "?ssl=1&ssl_version=SSLv23"]
)
def test_ssl_alone_or_with_a_version_verifies_against_the_system_store(conf, query):
    result = options(conf, query)
    assert result["cert_reqs"] == ssl.CERT_REQUIRED
    assert "server_hostname" in result  # filled per host by BrokerConnection
    assert "ca_certs" not in result  # py-amqp loads the system CA store
    assert "ssl_version" not in result  # always a verifying PROTOCOL_TLS_CLIENT context


def test_ssl_version_only_pins_the_protocol(conf):
    result = options(conf, "?ssl=1&ssl_version=TLSv1_2")
    assert result["tls_minimum_version"] == result["tls_maximum_version"] == ssl.TLSVersion.TLSv1_2
    assert "tls_minimum_version" not in options(conf, "?ssl=1&ssl_version=tls")


def test_files_are_passed_through(conf, pem):
    result = options(conf, ssl=True, ssl_ca_file=pem, ssl_cert_file=pem, ssl_key_file=pem)
    assert (result["ca_certs"], result["certfile"], result["keyfile"]) == (pem, pem, pem)
    assert result["cert_reqs"] == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ssl_version": "sslv3"}, "Invalid SSL version: sslv3"),
        ({"ssl_ca_file": "/nonexistent/ca.pem"}, "ssl_ca_file = /nonexistent/ca.pem is not a"),
        ({"ssl_cert_file": "/"}, "ssl_cert_file = / is not a readable file"),
        ({"ssl_key_file": "PEM"}, "ssl_key_file is set without ssl_cert_file"),
    ],
)
def test_bad_options_fail_at_start_naming_the_option(conf, pem, overrides, message):
    overrides = {k: pem if v == "PEM" else v for k, v in overrides.items()}
    with pytest.raises(ValueError, match=message):
        options(conf, ssl=True, **overrides)


def test_no_warning_while_verifying(conf, caplog):
    caplog.set_level(logging.WARNING)
    options(conf, ssl=True)
    assert caplog.records == []


def test_skipping_verification_is_explicit_and_warned(conf, caplog):
    caplog.set_level(logging.WARNING)
    result = options(conf, "?ssl=1&ssl_insecure_skip_verify=true")
    assert result["cert_reqs"] == ssl.CERT_NONE
    assert "server_hostname" not in result
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "does not verify the broker's certificate" in record.getMessage()
    assert "secret" not in record.getMessage()


def test_no_host_name_check_still_verifies_the_chain_and_warns(conf, caplog):
    caplog.set_level(logging.WARNING)
    result = options(conf, ssl=True, ssl_enforce_hostname_verification=False)
    assert result["cert_reqs"] == ssl.CERT_REQUIRED
    assert "server_hostname" not in result
    [record] = caplog.records
    assert "does not check the broker's host name" in record.getMessage()


def test_each_broker_host_gets_its_own_name_as_written():
    template = {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": None}
    conn = BrokerConnection(
        "amqp://u:p@localhost:5671//;amqp://u:p@[::1]:5671//;amqp://u:p@rabbit2:5671//",
        ssl=template,
    )
    names = [conn.ssl["server_hostname"]]
    for _ in range(2):
        conn.maybe_switch_next()
        names.append(conn.ssl["server_hostname"])

    assert names == ["localhost", "::1", "rabbit2"]
    assert template["server_hostname"] is None  # never written into the shared template


def test_without_host_name_check_no_name_is_added():
    conn = BrokerConnection("amqp://u:p@localhost:5671//", ssl={"cert_reqs": ssl.CERT_REQUIRED})
    assert "server_hostname" not in conn.ssl
    assert BrokerConnection("amqp://u:p@localhost:5671//", ssl=False).ssl is False
