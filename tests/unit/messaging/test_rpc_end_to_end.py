"""Client and server together over the fake driver: routing, errors, timeouts, shutdown."""

import logging
import queue
import threading
import time
from concurrent import futures

import pytest

from svcframe import messaging
from svcframe.context import RequestContext
from svcframe.messaging import exceptions
from svcframe.testing import wait_until

THIS_MODULE = __name__


class AppError(Exception):
    """An application exception, re-raised as itself only where its module is allowed."""


class Endpoint:
    target = messaging.Target(version="1.3")

    def __init__(self, name="server"):
        self.name = name
        self.seen = queue.SimpleQueue()
        self.started = threading.Event()
        self.release = threading.Event()

    def echo(self, ctxt, value):
        self.seen.put(("echo", value))
        return value

    def whoami(self, ctxt):
        self.seen.put(("whoami", None))
        return self.name

    def context(self, ctxt):
        return ctxt

    def sleep(self, ctxt, seconds):
        self.started.set()
        time.sleep(seconds)
        return f"slept {seconds}"

    def block(self, ctxt):
        self.started.set()
        self.release.wait(5)
        return "released"

    def fail(self, ctxt, kind):
        errors = {"value": ValueError("bad value"), "app": AppError("app failed")}
        raise errors[kind]

    @messaging.expected_exceptions(KeyError)
    def lookup(self, ctxt, key):
        return {}[key]

    def unserializable(self, ctxt):
        return object()


def client_for(transport, **target):
    target.setdefault("topic", "topic")
    return messaging.get_rpc_client(transport, messaging.Target(**target))


def drain(endpoint):
    items = []
    while True:
        try:
            items.append(endpoint.seen.get_nowait())
        except queue.Empty:
            return items


def test_call(transport, make_server):
    make_server([Endpoint()])
    assert client_for(transport).call({}, "echo", value={"a": [1, "☃"]}) == {"a": [1, "☃"]}


def test_cast(transport, make_server):
    endpoint = Endpoint()
    make_server([endpoint])
    client_for(transport).cast({}, "echo", value=5)
    assert endpoint.seen.get(timeout=2) == ("echo", 5)


def test_fanout_cast_reaches_every_server(transport, make_server):
    endpoints = [Endpoint(f"s{i}") for i in range(3)]
    for i, endpoint in enumerate(endpoints):
        make_server([endpoint], server=f"host{i}")
    client = client_for(transport, fanout=True)
    client.cast({}, "echo", value="all")
    client.cast({}, "echo", value="after")
    # Each server's fanout queue is in order: a second copy of the first
    # cast would arrive before the second one.
    for endpoint in endpoints:
        assert endpoint.seen.get(timeout=2) == ("echo", "all")
        assert endpoint.seen.get(timeout=2) == ("echo", "after")


def test_server_directed_call(transport, make_server):
    for name in ("host1", "host2", "host3"):
        make_server([Endpoint(name)], server=name)
    client = client_for(transport)
    assert {client.prepare(server="host2").call({}, "whoami") for _ in range(6)} == {"host2"}


def test_competing_servers_share_the_load(transport, make_server):
    endpoints = [Endpoint("a"), Endpoint("b")]
    make_server([endpoints[0]], server="host1")
    make_server([endpoints[1]], server="host2")
    client = client_for(transport)
    answers = []
    # Competing consumers: both take some requests; how many, and from which
    # call on, is the transport's choice.
    wait_until(
        lambda: answers.append(client.call({}, "whoami")) or set(answers) == {"a", "b"},
        10,
        message=lambda: f"a call answered by each server; got {answers}",
    )
    # Each request was handled once, by the server that answered it.
    handled = {endpoint.name: len(drain(endpoint)) for endpoint in endpoints}
    assert handled == {"a": answers.count("a"), "b": answers.count("b")}


def test_requests_wait_in_the_queue_for_a_server(transport, make_server):
    srv = make_server([Endpoint("first")])
    srv.stop()
    srv.wait()
    endpoint = Endpoint("second")
    client_for(transport).cast({}, "echo", value="queued")
    make_server([endpoint])
    assert endpoint.seen.get(timeout=2) == ("echo", "queued")


def test_cast_to_a_topic_nobody_declared_is_dropped(transport, make_server, caplog):
    with caplog.at_level(logging.DEBUG, logger="svcframe.messaging.drivers.fake"):
        client_for(transport, topic="nobody").cast({}, "echo", value=1)
    assert "dropped: no queue is bound" in caplog.text
    endpoint = Endpoint()
    make_server([endpoint], topic="nobody")
    # Had the first cast been kept, it would arrive before this one.
    client_for(transport, topic="nobody").cast({}, "echo", value=2)
    assert endpoint.seen.get(timeout=2) == ("echo", 2)
    assert drain(endpoint) == []


def test_exchanges_separate_topics(transport, make_server):
    make_server([Endpoint()], target_kw={"exchange": "nova"})
    assert client_for(transport, exchange="nova").call({}, "whoami") == "server"
    with pytest.raises(exceptions.MessageDeliveryFailure, match="exchange 'cinder'"):
        client_for(transport, exchange="cinder").prepare(timeout=5).call({}, "whoami")


def test_control_exchange_is_the_default_exchange(conf, transport, make_server):
    make_server([Endpoint()], target_kw={"exchange": "openstack"})
    assert client_for(transport).call({}, "whoami") == "server"


def test_transports_on_one_virtual_host_talk(make_transport, make_server, fake_url):
    make_server([Endpoint()], transport=make_transport(fake_url))
    assert client_for(make_transport(fake_url)).call({}, "whoami") == "server"
    other = make_transport(fake_url + "-other")
    with pytest.raises(exceptions.MessageDeliveryFailure, match="No server is listening"):
        client_for(other).prepare(timeout=5).call({}, "whoami")


@pytest.mark.parametrize(
    ("version", "namespace", "expected"),
    [
        ("1.0", None, "server"),
        ("1.3", None, "server"),
        ("1.4", None, exceptions.UnsupportedVersion),
        ("2.0", None, exceptions.UnsupportedVersion),
        (None, "baseapi", exceptions.UnsupportedVersion),
    ],
)
def test_versions_and_namespaces(make_transport, make_server, version, namespace, expected):
    allowed = make_transport(allowed_remote_exmods=["svcframe.messaging.exceptions"])
    make_server([Endpoint()], transport=allowed)
    client = client_for(allowed, version=version, namespace=namespace)
    if isinstance(expected, str):
        assert client.call({}, "whoami") == expected
    else:
        with pytest.raises(expected):
            client.call({}, "whoami")


def test_dispatch_errors_are_remote_errors_unless_allowed(transport, make_server):
    make_server([Endpoint()])
    with pytest.raises(exceptions.RemoteError) as info:
        client_for(transport).call({}, "missing")
    assert info.value.exc_type == "NoSuchMethod"
    assert "Endpoint does not support RPC method missing" in info.value.value


def test_builtin_exceptions_are_re_raised(transport, make_server):
    make_server([Endpoint()])
    with pytest.raises(ValueError) as info:
        client_for(transport).call({}, "fail", kind="value")
    assert "bad value" in str(info.value)


def test_application_exceptions_follow_allowed_remote_exmods(make_transport, make_server):
    plain = make_transport()
    allowed = make_transport(allowed_remote_exmods=[THIS_MODULE])
    make_server([Endpoint()], transport=plain)
    with pytest.raises(exceptions.RemoteError) as info:
        client_for(plain).call({}, "fail", kind="app")
    assert (info.value.exc_type, info.value.value) == ("AppError", "app failed")
    with pytest.raises(AppError) as info:
        client_for(allowed).call({}, "fail", kind="app")
    assert type(info.value).__name__ == "AppError_Remote"


def test_rpc_send_tracebacks_off_sends_class_module_and_message_only(
    conf, transport, make_server, caplog
):
    make_server([Endpoint()])
    with pytest.raises(exceptions.RemoteError) as info:
        client_for(transport).call({}, "fail", kind="app")
    assert "Traceback (most recent call last)" in "".join(info.value.traceback)

    conf.set_override("rpc_send_tracebacks", False)
    with caplog.at_level(logging.ERROR, logger="svcframe.messaging.server"):
        with pytest.raises(exceptions.RemoteError) as info:
            client_for(transport).call({}, "fail", kind="app")
        with pytest.raises(ValueError) as builtin:
            client_for(transport).call({}, "fail", kind="value")
    assert (info.value.exc_type, info.value.value, info.value.traceback) == (
        "AppError",
        "app failed",
        [],
    )
    assert str(builtin.value).strip() == "bad value"
    # The server still logs the traceback for its operators.
    assert "Traceback (most recent call last)" in caplog.text
    assert client_for(transport).call({}, "echo", value=1) == 1


def test_expected_exceptions_reach_the_caller_and_log_at_debug(transport, make_server, caplog):
    make_server([Endpoint()])
    with caplog.at_level(logging.DEBUG, logger="svcframe.messaging.server"):
        with pytest.raises(KeyError):
            client_for(transport).call({}, "lookup", key="k")
    records = [r for r in caplog.records if r.name == "svcframe.messaging.server"]
    assert [r.levelname for r in records] == ["DEBUG"]
    assert "Expected exception" in records[0].getMessage()


def test_server_logs_failures(transport, make_server, caplog):
    make_server([Endpoint()])
    client = client_for(transport)
    with caplog.at_level(logging.WARNING, logger="svcframe.messaging.server"):
        with pytest.raises(ValueError):
            client.call({}, "fail", kind="value")
        with pytest.raises(exceptions.RemoteError):
            client.call({}, "missing")
        with pytest.raises(TypeError):
            client.call({}, "echo", valeu=1)
    error, no_method, bad_arg = [r for r in caplog.records if r.name == "svcframe.messaging.server"]
    assert error.levelname == "ERROR" and error.exc_info is not None
    assert "'fail'" in error.getMessage()
    assert no_method.levelname == "WARNING" and no_method.exc_info is None
    assert bad_arg.levelname == "WARNING" and "unexpected argument 'valeu'" in bad_arg.getMessage()


def test_cast_failures_are_logged(transport, make_server, caplog):
    # One request at a time: the cast is handled before the call that follows.
    make_server([Endpoint()], executor="blocking")
    client = client_for(transport)
    with caplog.at_level(logging.ERROR, logger="svcframe.messaging.server"):
        client.cast({}, "fail", kind="value")
        # The server keeps serving after a failed cast.
        assert client.call({}, "echo", value=1) == 1
    assert "Exception during message handling of RPC method 'fail'" in caplog.text


def test_invalid_requests_get_a_clear_error_and_the_server_keeps_going(transport, make_server):
    make_server([Endpoint()])
    client = client_for(transport)
    with pytest.raises(TypeError) as info:
        client.call({}, "echo", wrong=1)
    assert "RPC method 'echo' got an unexpected argument 'wrong'" in str(info.value)
    assert client.call({}, "echo", value=2) == 2


def test_non_json_arguments_fail_at_the_caller(transport, make_server):
    make_server([Endpoint()])
    with pytest.raises(ValueError, match="Cannot convert"):
        client_for(transport).call({}, "echo", value=object())


def test_non_json_results_fail_at_the_caller(transport, make_server):
    make_server([Endpoint()])
    # As over RabbitMQ and the embedded transport: the server says why.
    with pytest.raises(exceptions.RemoteError) as info:
        client_for(transport).prepare(timeout=2).call({}, "unserializable")
    assert info.value.exc_type == "MessagingServerError"
    assert "cannot be serialized" in str(info.value)


def test_timeout_is_precise(transport, make_server):
    make_server([Endpoint()])
    client = client_for(transport).prepare(timeout=0.3)
    started = time.monotonic()
    with pytest.raises(exceptions.MessagingTimeout, match="Timed out waiting for a reply"):
        client.call({}, "sleep", seconds=0.5)
    assert 0.3 <= time.monotonic() - started < 0.5


def test_call_to_a_topic_nobody_serves_fails_at_once(transport):
    started = time.monotonic()
    with pytest.raises(exceptions.MessageDeliveryFailure, match="fake transport"):
        client_for(transport, topic="nobody").prepare(timeout=20).call({}, "echo", value=1)
    assert time.monotonic() - started < 1.0


def _silent_listener(transport, topic):
    """A consumer of ``topic`` that takes requests and never answers them."""
    listener = transport._driver.listen(messaging.Target(topic=topic, server="silent"))
    listener.start(lambda incoming: None)
    return listener


def test_default_timeout_is_rpc_response_timeout(conf, transport):
    listener = _silent_listener(transport, "silent")
    conf.set_override("rpc_response_timeout", 0)
    started = time.monotonic()
    try:
        with pytest.raises(exceptions.MessagingTimeout):
            client_for(transport, topic="silent").call({}, "echo", value=1)
        assert time.monotonic() - started < 0.2
    finally:
        listener.cleanup()


def test_call_monitor_keeps_a_slow_call_alive(transport, make_server):
    make_server([Endpoint()])
    client = client_for(transport).prepare(timeout=10, call_monitor_timeout=2)
    started = time.monotonic()
    # Without the heartbeats at 1 s and 2 s, the monitor would give up at 2 s.
    assert client.call({}, "sleep", seconds=2.1) == "slept 2.1"
    assert 2.1 <= time.monotonic() - started < 2.5


def test_call_monitor_gives_up_without_heartbeats(transport):
    listener = _silent_listener(transport, "silent")
    client = client_for(transport, topic="silent").prepare(timeout=10, call_monitor_timeout=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(exceptions.MessagingTimeout, match="call monitor"):
            client.call({}, "echo", value=1)
        assert 0.3 <= time.monotonic() - started < 0.5
    finally:
        listener.cleanup()


def test_overall_timeout_caps_a_monitored_call(transport, make_server):
    make_server([Endpoint()])
    client = client_for(transport).prepare(timeout=0.3, call_monitor_timeout=2)
    started = time.monotonic()
    with pytest.raises(exceptions.MessagingTimeout):
        client.call({}, "sleep", seconds=0.5)
    assert 0.3 <= time.monotonic() - started < 0.5


def test_context_dict_reaches_the_endpoint_with_client_timeout(transport, make_server):
    make_server([Endpoint()])
    client = client_for(transport)
    assert client.call({"user_id": "u", "roles": ["r"]}, "context") == {
        "user_id": "u",
        "roles": ["r"],
        "client_timeout": None,
    }
    monitored = client.prepare(call_monitor_timeout=30).call({"user_id": "u"}, "context")
    assert monitored == {"user_id": "u", "client_timeout": 30}


def test_request_context_round_trip(transport, make_server):
    seen = []

    class Ctx:
        def check(self, ctxt):
            seen.append(ctxt)
            return ctxt.request_id

    serializer = messaging.RequestContextSerializer()
    make_server([Ctx()], serializer=serializer)
    client = messaging.get_rpc_client(
        transport, messaging.Target(topic="topic"), serializer=serializer
    )
    ctxt = RequestContext(user_id="u", project_id="p", roles=["admin"], tenant_zone="z1")
    assert client.call(ctxt, "check") == ctxt.request_id
    received = seen[0]
    assert isinstance(received, RequestContext)
    assert received == ctxt
    assert received.extra == {"tenant_zone": "z1"}
    assert received.client_timeout is None


def test_stop_and_wait_drain_requests_in_progress(transport, make_server):
    endpoint = Endpoint()
    srv = make_server([endpoint])
    client = client_for(transport)
    with futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(client.call, {}, "block")
        assert endpoint.started.wait(2)
        srv.stop()
        waiter = threading.Thread(target=srv.wait)
        waiter.start()
        waiter.join(0.1)
        assert waiter.is_alive(), "wait() returned before the request in progress finished"
        endpoint.release.set()
        waiter.join(2)
        assert not waiter.is_alive()
        # wait() returned, so the reply was sent; the caller reads it promptly.
        assert pending.result(timeout=1) == "released"
    with pytest.raises(exceptions.MessageDeliveryFailure):
        client.prepare(timeout=5).call({}, "whoami")


def test_server_lifecycle_edges(transport):
    srv = messaging.get_rpc_server(
        transport, messaging.Target(topic="topic", server="h"), [Endpoint()]
    )
    srv.stop()
    srv.wait()
    srv.start()
    srv.start()
    client = client_for(transport)
    assert client.call({}, "whoami") == "server"
    srv.stop()
    srv.stop()
    srv.wait()
    srv.wait()
    # A server can be started again after wait(), as oslo.messaging's,
    # and after stop() alone.
    srv.start()
    assert client.call({}, "whoami") == "server"
    srv.stop()
    srv.start()
    assert client.call({}, "whoami") == "server"
    srv.stop()
    srv.wait()
    assert [t for t in threading.enumerate() if t.name == "rpc-server topic"] == []


def test_wait_before_stop_blocks_until_stop(transport, make_server, caplog):
    srv = make_server([Endpoint()])
    waiter = threading.Thread(target=srv.wait)
    waiter.start()
    waiter.join(0.1)
    assert waiter.is_alive()
    srv.stop()
    waiter.join(2)
    assert not waiter.is_alive()
    assert "wait() called before stop()" in caplog.text


def test_server_needs_topic_and_server(transport):
    srv = messaging.get_rpc_server(transport, messaging.Target(topic="t"), [Endpoint()])
    with pytest.raises(exceptions.InvalidTarget):
        srv.start()


def test_ping_endpoint_when_enabled(conf, transport, make_server):
    conf.set_override("rpc_ping_enabled", True)
    make_server([Endpoint()])
    assert client_for(transport).call({}, "oslo_rpc_server_ping") == "pong"


def test_private_methods_are_never_called(transport, make_server):
    class Private:
        def _secret(self, ctxt):
            return "leaked"

    make_server([Private()])
    with pytest.raises(exceptions.RemoteError) as info:
        client_for(transport).call({}, "_secret")
    assert info.value.exc_type == "NoSuchMethod"


@pytest.mark.parametrize("executor", ["blocking", "threading"])
def test_executors_serve_calls(transport, make_server, executor):
    endpoint = Endpoint()
    make_server([endpoint], executor=executor)
    client = client_for(transport)
    assert [client.call({}, "echo", value=i) for i in range(5)] == list(range(5))


def test_threading_executor_runs_requests_concurrently(transport, make_server):
    make_server([Endpoint()], executor="threading")
    client = client_for(transport)
    started = time.monotonic()
    with futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: client.call({}, "sleep", seconds=0.2), range(4)))
    assert results == ["slept 0.2"] * 4
    assert time.monotonic() - started < 0.5


def test_blocking_executor_runs_requests_one_at_a_time(transport, make_server):
    make_server([Endpoint()], executor="blocking")
    client = client_for(transport)
    started = time.monotonic()
    with futures.ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: client.call({}, "sleep", seconds=0.1), range(3)))
    assert time.monotonic() - started >= 0.3
