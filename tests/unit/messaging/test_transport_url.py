"""TransportURL parsing and masking, query overrides, and get_rpc_transport()."""

import pytest
from oslo_config import cfg
from oslo_messaging import transport as oslo_transport

from svcframe import messaging
from svcframe.messaging import exceptions, mask_password
from svcframe.messaging.transport import TransportHost, TransportURL

H = TransportHost

PARSE_CASES = [
    ("rabbit://", None, []),
    ("rabbit:///", "", []),
    ("rabbit:////", "/", []),
    ("rabbit://host/nova", "nova", [H("host")]),
    ("rabbit://host:5673//", "/", [H("host", 5673)]),
    ("rabbit://u:p@host:5672/", "", [H("host", 5672, "u", "p")]),
    ("rabbit://u@host/", "", [H("host", None, "u")]),
    (
        "rabbit://u1:p1@h1:5672,u2:p2@h2:5673/vh",
        "vh",
        [H("h1", 5672, "u1", "p1"), H("h2", 5673, "u2", "p2")],
    ),
    ("rabbit://h1,h2,h3/", "", [H("h1"), H("h2"), H("h3")]),
    ("rabbit://[::1]:5672/", "", [H("::1", 5672)]),
    ("rabbit://u:p@[fe80::1%25eth0]/", "", [H("fe80::1%25eth0", None, "u", "p")]),
    ("rabbit://[::1]/", "", [H("::1")]),
    (
        "rabbit://us%40er:p%3Ass%2Fw%40rd@host/v%2Fh",
        "v/h",
        [H("host", None, "us@er", "p:ss/w@rd")],
    ),
    ("rabbit://user:pass:with:colons@host/", "", [H("host", None, "user", "pass:with:colons")]),
    ("rabbit://a@b:pw@host/", "", [H("host", None, "a@b", "pw")]),
]


@pytest.mark.parametrize(("url", "virtual_host", "hosts"), PARSE_CASES)
def test_parse(conf, url, virtual_host, hosts):
    parsed = TransportURL.parse(conf, url)
    assert parsed.transport == "rabbit"
    assert parsed.virtual_host == virtual_host
    assert parsed.hosts == hosts


@pytest.mark.parametrize("url", [case[0] for case in PARSE_CASES])
def test_parse_agrees_with_oslo_messaging(conf, url):
    ours = TransportURL.parse(conf, url)
    # oslo.messaging registers its own transport_url: give it its own config.
    theirs = oslo_transport.TransportURL.parse(cfg.ConfigOpts(), url)
    assert ours.virtual_host == theirs.virtual_host
    assert [(h.hostname, h.port, h.username, h.password) for h in ours.hosts] == [
        (h.hostname, h.port, h.username, h.password) for h in theirs.hosts
    ]


def test_query_parameters(conf):
    parsed = TransportURL.parse(conf, "rabbit://h/?ssl=1&a=x&a=y&empty=")
    assert parsed.query == {"ssl": "1", "a": "x,y"}


def test_parse_defaults_to_the_configured_url(conf):
    conf.set_override("transport_url", "rabbit://u:p@cfg-host:5672/")
    assert TransportURL.parse(conf).hosts == [H("cfg-host", 5672, "u", "p")]


@pytest.mark.parametrize(
    ("url", "error"),
    [
        (None, "must be a string, not NoneType"),
        ("no-scheme-here", "No scheme specified"),
        ("rabbit://u:secret@host:notaport/", "Invalid port 'notaport'"),
        ("rabbit://u:secret@host:70000/", "Invalid port '70000'"),
        ("rabbit://u:secret@[::1/", "secret"),
        ("rabbit://u:secret@[::1]x/", "Unexpected 'x'"),
    ],
)
def test_parse_errors(conf, url, error):
    if url is None:
        conf.set_override("transport_url", None)
    with pytest.raises(exceptions.InvalidTransportURL) as info:
        TransportURL.parse(conf, url)
    if error == "secret":
        assert "secret" not in str(info.value)
    else:
        assert error in str(info.value)
        assert "secret" not in str(info.value)


def test_mixed_credentials_warn(conf, caplog):
    TransportURL.parse(conf, "rabbit://u:p@h1,h2/")
    assert "All hosts must be set with username/password or not" in caplog.text
    assert "p@" not in caplog.text


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("rabbit://u:secret@h:5672/", "rabbit://u:***@h:5672/"),
        ("rabbit://u1:s1@h1,u2:s2@h2:5673/nova", "rabbit://u1:***@h1,u2:***@h2:5673/nova"),
        ("rabbit://%40u:s%2Fx@[::1]:5672/", "rabbit://%40u:***@[::1]:5672/"),
        ("rabbit://h/?ssl=1", "rabbit://h/?ssl=1"),
        ("rabbit://u@h/", "rabbit://u@h/"),
    ],
)
def test_str_masks_passwords(conf, url, text):
    assert str(TransportURL.parse(conf, url)) == text


def test_repr_masks_passwords(conf):
    parsed = TransportURL.parse(conf, "rabbit://u:topsecret@h/")
    assert "topsecret" not in repr(parsed)
    assert "topsecret" not in repr(parsed.hosts)


MASK_CASES = [
    ("connect to rabbit://u:pw@host:5672/ failed", "connect to rabbit://u:***@host:5672/ failed"),
    ("rabbit://u:p1@h1:5672,u2:p2@h2:5672/", "rabbit://u:***@h1:5672,u2:***@h2:5672/"),
    ("db postgresql+psycopg2://nova:pw@db/nova ok", "db postgresql+psycopg2://nova:***@db/nova ok"),
    ("'rabbit://u:p/w@h/vh'", "'rabbit://u:***@h/vh'"),
    ("rabbit://u:p@w@h/", "rabbit://u:***@h/"),
    ("a rabbit://h/ and redis://:pw@r:6379/0", "a rabbit://h/ and redis://:***@r:6379/0"),
    ("rabbit://u@h/ no password", "rabbit://u@h/ no password"),
    ("no url at all", "no url at all"),
    ("two urls: amqp://a:b@h1/ amqp://c:d@h2/", "two urls: amqp://a:***@h1/ amqp://c:***@h2/"),
]


@pytest.mark.parametrize(("text", "masked"), MASK_CASES)
def test_mask_password(text, masked):
    assert mask_password(text) == masked


def test_mask_password_accepts_non_strings():
    assert mask_password(ValueError("rabbit://u:pw@h/")) == "rabbit://u:***@h/"


def test_option_overrides_from_the_query(conf):
    parsed = TransportURL.parse(conf, "rabbit://h/?ssl=true&rabbit_qos_prefetch_count=10")
    assert parsed.option(conf, "ssl") is True
    assert parsed.option(conf, "rabbit_qos_prefetch_count") == 10
    assert parsed.option(conf, "amqp_durable_queues") is False
    options = parsed.rabbit_options(conf)
    assert options.ssl is True
    assert options["rabbit_qos_prefetch_count"] == 10
    assert (
        options.heartbeat_timeout_threshold
        == conf.oslo_messaging_rabbit.heartbeat_timeout_threshold
    )


def test_option_override_of_another_group(conf):
    parsed = TransportURL.parse(conf, "embedded://?polling_interval=0.5")
    assert parsed.option(conf, "polling_interval", group="embedded") == 0.5


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("no_such_option=1", "Unknown option 'no_such_option'"),
        ("rabbit_qos_prefetch_count=many", "Invalid value for option 'rabbit_qos_prefetch_count'"),
        ("ssl=perhaps", "Invalid value for option 'ssl'"),
    ],
)
def test_bad_query_options(conf, query, error):
    parsed = TransportURL.parse(conf, f"rabbit://u:secret@h/?{query}")
    with pytest.raises(exceptions.InvalidTransportURL) as info:
        parsed.rabbit_options(conf)
    assert error in str(info.value)
    assert "secret" not in str(info.value)


def test_get_rpc_transport_loads_the_driver_of_the_scheme(conf, fake_url):
    transport = messaging.get_rpc_transport(conf, fake_url, allowed_remote_exmods=["x.y"])
    try:
        driver = transport._driver
        assert type(driver).__name__ == "FakeDriver"
        assert driver.allowed_remote_exmods == ["x.y"]
        assert driver.default_exchange == "openstack"
        assert transport.conf is conf
    finally:
        transport.cleanup()


def test_get_rpc_transport_uses_control_exchange(conf, fake_url):
    conf.set_override("control_exchange", "nova")
    transport = messaging.get_rpc_transport(conf, fake_url)
    assert transport._driver.default_exchange == "nova"
    transport.cleanup()


def test_get_rpc_transport_reads_transport_url(conf, fake_url):
    conf.set_override("transport_url", fake_url)
    transport = messaging.get_rpc_transport(conf)
    assert transport._driver.url.virtual_host == fake_url.rsplit("/", 1)[1]
    transport.cleanup()


def test_get_rpc_transport_registers_its_options():
    conf = cfg.ConfigOpts()
    conf([], default_config_files=[], default_config_dirs=[])
    transport = messaging.get_rpc_transport(conf, "fake://")
    assert conf.rpc_response_timeout == 60
    transport.cleanup()


def test_unknown_scheme_lists_the_available_ones(conf):
    with pytest.raises(exceptions.DriverLoadFailure) as info:
        messaging.get_rpc_transport(conf, "nosuch://user:secret@h/")
    text = str(info.value)
    assert "'nosuch'" in text and "fake" in text and "rabbit" in text
    assert "secret" not in text


def test_driver_errors_are_reported_with_the_driver_name(conf, monkeypatch):
    from svcframe.messaging.drivers import fake

    def broken(*args, **kwargs):
        raise RuntimeError("cannot reach rabbit://u:secret@h/")

    monkeypatch.setattr(fake.FakeDriver, "__init__", broken)
    with pytest.raises(exceptions.DriverLoadFailure) as info:
        messaging.get_rpc_transport(conf, "fake://")
    assert "'fake'" in str(info.value) and "secret" not in str(info.value)


def test_driver_messaging_errors_pass_through(conf, monkeypatch):
    from svcframe.messaging.drivers import fake

    def refuses(*args, **kwargs):
        raise exceptions.InvalidTransportURL("fake://", "refused by the driver")

    monkeypatch.setattr(fake.FakeDriver, "__init__", refuses)
    with pytest.raises(exceptions.InvalidTransportURL, match="refused by the driver"):
        messaging.get_rpc_transport(conf, "fake://")


def test_unset_transport_url_means_embedded(conf, monkeypatch):
    from stevedore import driver as stevedore_driver

    seen = []

    class Recorder:
        def __init__(self, namespace, name, **kwargs):
            seen.append((namespace, name, kwargs["invoke_args"][1]))
            self.driver = type("D", (), {"conf": conf})()

    monkeypatch.setattr(stevedore_driver, "DriverManager", Recorder)
    for url in (None, ""):
        conf.set_override("transport_url", url)
        messaging.get_rpc_transport(conf)
    assert [(ns, name) for ns, name, _ in seen] == [("svcframe.drivers", "embedded")] * 2
    assert seen[0][2].transport == "embedded" and seen[0][2].hosts == []


def _scheme_loaded(conf, monkeypatch):
    from stevedore import driver as stevedore_driver

    seen = []

    class Recorder:
        def __init__(self, namespace, name, **kwargs):
            seen.append(name)
            self.driver = type("D", (), {"conf": conf})()

    monkeypatch.setattr(stevedore_driver, "DriverManager", Recorder)
    messaging.get_rpc_transport(conf)
    return seen[0]


def test_transport_url_set_nowhere_means_embedded_though_its_default_is_rabbit(conf, monkeypatch):
    # The option is oslo.messaging's, default rabbit:// included.
    assert conf.transport_url == "rabbit://"
    assert _scheme_loaded(conf, monkeypatch) == "embedded"


def test_transport_url_set_to_rabbit_means_rabbit(tmp_path, monkeypatch):
    path = tmp_path / "svc.conf"
    path.write_text("[DEFAULT]\ntransport_url = rabbit://\n")
    conf = cfg.ConfigOpts()
    from svcframe.conf import register_messaging_opts

    register_messaging_opts(conf)
    conf(["--config-file", str(path)], default_config_files=[], default_config_dirs=[])
    assert _scheme_loaded(conf, monkeypatch) == "rabbit"


@pytest.mark.parametrize(
    ("target", "operation"),
    [
        (messaging.Target(), "_send"),
        (messaging.Target(server="s"), "_send"),
        (messaging.Target(topic="t"), "_listen"),
        (messaging.Target(server="s"), "_listen"),
    ],
)
def test_transport_requires_topic_and_server(transport, target, operation):
    with pytest.raises(exceptions.InvalidTarget):
        if operation == "_send":
            transport._send(target, {}, {"method": "m", "args": {}})
        else:
            transport._listen(target)
