"""RPC over the real RabbitMQ: calls, casts, fanout, routing, versions, timeouts, errors."""

import collections
import logging
import threading
import time

import pytest
from conftest import RABBIT_URL, unique
from rpc_endpoints import (
    ComputeAPI,
    ConductorAPI,
    QuotaExceeded,
    Recorder,
    VersionedEndpoint,
)

from svcframe import messaging
from svcframe.context import RequestContext

pytestmark = pytest.mark.rabbit

EXCEPTIONS_MODULE = messaging.MessagingException.__module__


@pytest.fixture
def transport(rpc):
    return rpc.transport()


@pytest.fixture
def recorder(rpc, transport, topic):
    endpoint = Recorder("server-1")
    rpc.server(transport, topic, [endpoint])
    return endpoint


# -- calls and casts ------------------------------------------------------------


def test_call_returns_the_result(rpc, transport, topic, recorder):
    client = rpc.client(transport, topic, timeout=5)

    assert client.call({}, "echo", value={"a": [1, 2.5, "x", None, True]}) == {
        "a": [1, 2.5, "x", None, True]
    }


def test_cast_reaches_the_endpoint(rpc, transport, topic, recorder):
    client = rpc.client(transport, topic)

    assert client.cast({}, "record", value="hello") is None

    assert recorder.wait_for_records(1, timeout=5) == ["hello"]


def test_fanout_cast_reaches_every_server(rpc, transport, topic):
    endpoints = [Recorder(f"server-{i}") for i in range(3)]
    for endpoint in endpoints:
        rpc.server(transport, topic, [endpoint], server=endpoint.name)

    rpc.client(transport, topic, fanout=True).cast({}, "record", value="to all")

    for endpoint in endpoints:
        assert endpoint.wait_for_records(1, timeout=5) == ["to all"]


def test_prepare_server_reaches_only_that_server(rpc, transport, topic):
    endpoints = {name: Recorder(name) for name in ("server-a", "server-b", "server-c")}
    for name, endpoint in endpoints.items():
        rpc.server(transport, topic, [endpoint], server=name)
    client = rpc.client(transport, topic, timeout=5)

    answers = {client.prepare(server="server-b").call({}, "whoami") for _ in range(20)}
    client.prepare(server="server-b").cast({}, "record", value="direct")

    assert answers == {"server-b"}
    assert endpoints["server-b"].wait_for_records(1, timeout=5) == ["direct"]
    # The cast was queued after the calls; had it gone elsewhere it would be there by now.
    client.prepare(server="server-b").call({}, "echo", value="barrier")
    assert endpoints["server-a"].received == []
    assert endpoints["server-c"].received == []


def test_servers_of_one_topic_share_the_calls(rpc, transport, topic):
    for name in ("server-a", "server-b", "server-c"):
        rpc.server(transport, topic, [Recorder(name)], server=name)
    client = rpc.client(transport, topic, timeout=5)

    served = collections.Counter(client.call({}, "whoami") for _ in range(300))

    assert set(served) == {"server-a", "server-b", "server-c"}
    for name, count in served.items():
        assert count > 30, f"{name} served only {count} of 300 calls: {served}"


def test_namespaces_route_to_their_endpoint(rpc, transport, topic):
    rpc.server(transport, topic, [ComputeAPI(), ConductorAPI()])
    client = rpc.client(transport, topic, timeout=5)

    assert client.prepare(namespace="compute").call({}, "which") == "compute"
    assert client.prepare(namespace="conductor").call({}, "which") == "conductor"
    with pytest.raises(messaging.RemoteError) as info:
        client.call({}, "which")
    assert info.value.exc_type == "UnsupportedVersion"


# -- versions -------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "1.3"])
def test_endpoint_accepts_versions_up_to_its_own(rpc, transport, topic, version):
    rpc.server(transport, topic, [VersionedEndpoint()])
    client = rpc.client(transport, topic, timeout=5)

    assert client.prepare(version=version).call({}, "version") == "1.3"


@pytest.mark.parametrize("version", ["1.4", "2.0"])
def test_newer_or_other_major_version_comes_back_as_remote_error(rpc, transport, topic, version):
    rpc.server(transport, topic, [VersionedEndpoint()])
    client = rpc.client(transport, topic, timeout=5)

    with pytest.raises(messaging.RemoteError) as info:
        client.prepare(version=version).call({}, "version")

    assert info.value.exc_type == "UnsupportedVersion"
    assert version in info.value.value


def test_unsupported_version_is_raised_as_itself_when_its_module_is_allowed(rpc, topic):
    transport = rpc.transport(allowed_remote_exmods=[EXCEPTIONS_MODULE])
    rpc.server(transport, topic, [VersionedEndpoint()])
    client = rpc.client(transport, topic, timeout=5)

    with pytest.raises(messaging.UnsupportedVersion) as info:
        client.prepare(version="1.4").call({}, "version")

    assert "1.4" in str(info.value)


def test_version_cap_is_checked_before_sending(rpc, transport, topic):
    recorder = Recorder()
    rpc.server(transport, topic, [VersionedEndpoint(), recorder])
    client = rpc.client(transport, topic, timeout=5, version_cap="1.2")

    assert client.can_send_version("1.2")
    assert client.can_send_version("1.0")
    assert not client.can_send_version("1.3")
    assert not client.can_send_version("2.0")
    with pytest.raises(messaging.RPCVersionCapError):
        client.prepare(version="1.3").call({}, "record", value="call")
    with pytest.raises(messaging.RPCVersionCapError):
        client.prepare(version="1.3").cast({}, "record", value="cast")
    assert client.prepare(version="1.2").call({}, "version") == "1.3"
    assert recorder.received == []


# -- timeouts -------------------------------------------------------------------


def test_call_to_slow_method_times_out_on_time(rpc, transport, topic, recorder):
    client = rpc.client(transport, topic, timeout=0.5)
    client.call({}, "echo", value="warm up")

    start = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout):
        client.call({}, "sleep", seconds=1.5)
    elapsed = time.monotonic() - start

    assert 0.5 <= elapsed < 0.9


def test_call_to_a_topic_nobody_consumes_fails_at_once(rpc, transport):
    client = rpc.client(transport, unique("nobody"), timeout=10)

    start = time.monotonic()
    with pytest.raises(messaging.UnroutableCall) as info:
        client.call({}, "echo", value=1)

    assert time.monotonic() - start < 2
    # What code written for oslo.messaging catches, and what svcframe code caught.
    assert isinstance(info.value, messaging.MessagingTimeout)
    assert isinstance(info.value, messaging.MessageDeliveryFailure)
    assert "No server is listening on" in str(info.value)


AT_LEAST_ONCE = messaging.TransportOptions(at_least_once=True)


def test_at_least_once_call_to_a_topic_nobody_consumes_is_undeliverable(rpc, transport):
    topic = unique("nobody")
    client = rpc.client(transport, topic, timeout=60, transport_options=AT_LEAST_ONCE)

    start = time.monotonic()
    with pytest.raises(messaging.MessageUndeliverable) as info:
        client.call({}, "echo", value=1)

    assert time.monotonic() - start < 5
    assert info.value.routing_key == topic
    assert not isinstance(info.value, messaging.MessagingTimeout)


def test_at_least_once_cast_to_a_topic_nobody_consumes_is_undeliverable(rpc, transport):
    topic = unique("nobody")
    client = rpc.client(transport, topic)

    with pytest.raises(messaging.MessageUndeliverable) as info:
        client.prepare(transport_options=AT_LEAST_ONCE).cast({}, "record", value="lost")

    assert info.value.routing_key == topic
    # Without the option the same cast is fire-and-forget, as in oslo.messaging.
    assert client.cast({}, "record", value="lost") is None


def test_at_least_once_cast_to_a_consumed_topic_arrives(rpc, transport, topic, recorder):
    client = rpc.client(transport, topic, transport_options=AT_LEAST_ONCE)

    for value in ("one", "two"):
        assert client.cast({}, "record", value=value) is None

    assert recorder.wait_for_records(2, timeout=5) == ["one", "two"]


def test_call_monitor_keeps_a_long_call_alive(rpc, transport, topic, recorder):
    client = rpc.client(transport, topic, timeout=10, call_monitor_timeout=2)

    start = time.monotonic()
    assert client.call({}, "sleep", seconds=4) == 4

    assert 4 <= time.monotonic() - start < 6


def test_call_monitor_notices_a_server_killed_mid_call(rpc, transport, topic, server_process):
    # The fanout queue of the killed process expires soon after it dies.
    server = server_process(f"{RABBIT_URL}?rabbit_transient_queues_ttl=60", topic)
    client = rpc.client(transport, topic, timeout=10, call_monitor_timeout=2)
    outcome = {}

    def call():
        start = time.monotonic()
        try:
            client.call({}, "block_forever")
        except Exception as exc:  # noqa: BLE001 - examined below
            outcome["error"] = exc
        outcome["ended"] = time.monotonic()
        outcome["elapsed"] = outcome["ended"] - start

    caller = threading.Thread(target=call)
    caller.start()
    server.expect("started block_forever", timeout=5)
    # Let a heartbeat or two through: the call survives while the server lives.
    time.sleep(2.5)
    assert caller.is_alive()
    killed = time.monotonic()
    server.kill()
    caller.join(10)

    assert not caller.is_alive()
    assert isinstance(outcome.get("error"), messaging.MessagingTimeout)
    assert "call monitor" in str(outcome["error"])
    assert outcome["ended"] - killed <= 2.5
    assert outcome["elapsed"] < 6


# -- errors ---------------------------------------------------------------------


def test_allowed_exception_is_raised_as_its_class(rpc, topic):
    transport = rpc.transport(allowed_remote_exmods=[QuotaExceeded.__module__])
    rpc.server(transport, topic, [Recorder()])
    client = rpc.client(transport, topic, timeout=5)

    with pytest.raises(QuotaExceeded) as info:
        client.call({}, "fail", kind="quota", message="no more cores")

    assert info.value.args[0] == "no more cores"
    assert info.value.kwargs == {"resource": "cores"}
    assert "no more cores" in str(info.value)


def test_builtin_exception_is_always_raised_as_its_class(rpc, transport, topic, recorder):
    client = rpc.client(transport, topic, timeout=5)

    with pytest.raises(ValueError) as info:
        client.call({}, "fail", kind="value", message="bad value")

    assert "bad value" in str(info.value)


def test_other_exception_becomes_remote_error(rpc, transport, topic, recorder):
    client = rpc.client(transport, topic, timeout=5)

    with pytest.raises(messaging.RemoteError) as info:
        client.call({}, "fail", kind="quota", message="not allowed here")

    assert info.value.exc_type == "QuotaExceeded"
    assert info.value.value == "not allowed here"
    assert "not allowed here" in str(info.value)


def test_expected_exception_reaches_the_caller_without_an_error_log(rpc, topic, caplog):
    transport = rpc.transport(allowed_remote_exmods=[QuotaExceeded.__module__])
    rpc.server(transport, topic, [Recorder()])
    client = rpc.client(transport, topic, timeout=5)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(QuotaExceeded) as info:
        client.call({}, "fail_expectedly", message="expected")

    assert info.value.kwargs == {"resource": "ram"}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# -- contexts -------------------------------------------------------------------


def test_dict_context_arrives_as_a_dict_with_client_timeout(rpc, transport, topic, recorder):
    client = rpc.client(transport, topic, timeout=5)

    answer = client.call({"user_id": "alice", "roles": ["reader"]}, "context")

    assert answer["type"] == "dict"
    assert answer["values"] == {"user_id": "alice", "roles": ["reader"], "client_timeout": None}


def test_request_context_round_trips_through_its_serializer(rpc, transport, topic):
    serializer = messaging.RequestContextSerializer()
    endpoint = Recorder()
    rpc.server(transport, topic, [endpoint], serializer=serializer)
    client = rpc.client(transport, topic, timeout=5, serializer=serializer)
    ctxt = RequestContext(
        user_id="alice", project_id="demo", roles=["admin"], is_admin=True, color="blue"
    )

    answer = client.call(ctxt, "context")

    assert answer["type"] == "RequestContext"
    assert answer["values"] == ctxt.to_dict()
    received = endpoint.contexts[0]
    assert isinstance(received, RequestContext)
    assert received.request_id == ctxt.request_id
    assert received.extra == {"color": "blue"}
