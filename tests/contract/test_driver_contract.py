"""What every transport driver does the same: fake://, embedded:// and RabbitMQ."""

import json
import threading
import time
from concurrent import futures

import pytest

from svcframe import messaging
from svcframe.messaging import exceptions
from svcframe.testing import wait_until

EXCEPTIONS_MODULE = "svcframe.messaging.exceptions"


class Endpoint:
    target = messaging.Target(version="1.3")

    def __init__(self, name="s1"):
        self.name = name
        self.lock = threading.Lock()
        self.records = []
        self.recorded = threading.Condition(self.lock)

    def echo(self, ctxt, value):
        return value

    def whoami(self, ctxt):
        return self.name

    def record(self, ctxt, tag):
        with self.lock:
            self.records.append(tag)
            self.recorded.notify_all()

    def take(self, ctxt, item):
        time.sleep(0.005)
        with self.lock:
            self.records.append(item)
        return self.name

    def sleep(self, ctxt, seconds):
        time.sleep(seconds)
        return f"slept {seconds}"

    def unserializable(self, ctxt):
        return object()

    def wait_records(self, n, timeout=10):
        with self.lock:
            self.recorded.wait_for(lambda: len(self.records) >= n, timeout)
            return list(self.records)


def test_call_returns_the_result(rpc):
    rpc.serve([Endpoint()])
    assert rpc.client().call({}, "echo", value={"a": [1, "b"]}) == {"a": [1, "b"]}


def test_cast_reaches_one_server(rpc):
    endpoints = [Endpoint("s1"), Endpoint("s2")]
    for endpoint in endpoints:
        rpc.serve([endpoint], server=endpoint.name)
    client = rpc.client()
    client.cast({}, "record", tag="once")
    wait_until(lambda: any(e.records for e in endpoints), 10, message="the cast handled")
    # Both servers take from one queue in order: once each has answered a
    # call sent after the cast, a second copy of it would have been taken.
    answered = set()
    wait_until(
        lambda: answered.add(client.call({}, "whoami")) or answered == {"s1", "s2"},
        10,
        message=lambda: f"a call answered by each server; got {answered}",
    )
    assert sorted(r for e in endpoints for r in e.records) == ["once"]


def test_fanout_reaches_every_server(rpc):
    endpoints = [Endpoint("s1"), Endpoint("s2")]
    for endpoint in endpoints:
        rpc.serve([endpoint], server=endpoint.name)
    rpc.client(fanout=True).cast({}, "record", tag="all")
    for endpoint in endpoints:
        assert endpoint.wait_records(1) == ["all"]


def test_server_directed_call(rpc):
    for name in ("s1", "s2"):
        rpc.serve([Endpoint(name)], server=name)
    for name in ("s1", "s2", "s2", "s1"):
        assert rpc.client(server=name).call({}, "whoami") == name


def test_competing_consumers_take_each_request_once(rpc):
    endpoints = [Endpoint("s1"), Endpoint("s2")]
    for endpoint in endpoints:
        rpc.serve([endpoint], server=endpoint.name)
    client = rpc.client()
    with futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: client.call({}, "take", item=i), range(80)))
    taken = sorted(r for e in endpoints for r in e.records)
    assert taken == list(range(80))
    for i, server in enumerate(answers):
        assert i in next(e for e in endpoints if e.name == server).records
    assert all(e.records for e in endpoints), {e.name: len(e.records) for e in endpoints}


@pytest.mark.parametrize(
    ("version", "namespace"),
    [("1.4", None), ("2.0", None), (None, "other")],
)
def test_version_and_namespace_errors(rpc, version, namespace):
    rpc.serve([Endpoint()])
    allowed = rpc.new_transport(allowed_remote_exmods=[EXCEPTIONS_MODULE])
    client = rpc.client(transport=allowed, version=version, namespace=namespace)
    with pytest.raises(exceptions.UnsupportedVersion):
        client.call({}, "whoami")
    # Not allowed as itself: a RemoteError naming it.
    with pytest.raises(exceptions.RemoteError) as info:
        rpc.client(version=version, namespace=namespace).call({}, "whoami")
    assert info.value.exc_type == "UnsupportedVersion"
    assert rpc.client(version="1.3").call({}, "whoami") == "s1"


def test_unknown_method_and_wrong_arguments(rpc):
    rpc.serve([Endpoint()])
    client = rpc.client()
    with pytest.raises(exceptions.RemoteError) as info:
        client.call({}, "no_such_method")
    assert info.value.exc_type == "NoSuchMethod"
    with pytest.raises(TypeError, match="unexpected argument 'wrong'"):
        client.call({}, "echo", wrong=1)
    assert client.call({}, "echo", value=1) == 1


def test_an_unserializable_result_is_a_remote_error(rpc):
    rpc.serve([Endpoint()])
    with pytest.raises(exceptions.RemoteError) as info:
        rpc.client().call({}, "unserializable")
    assert info.value.exc_type == "MessagingServerError"
    assert "cannot be serialized" in str(info.value)
    # The driver's own frames tell the caller nothing but the server's paths.
    assert "File " not in str(info.value.traceback)
    assert rpc.client().call({}, "echo", value=2) == 2


def test_unserializable_arguments_fail_at_the_caller(rpc):
    with pytest.raises(ValueError, match="Cannot convert"):
        rpc.client().call({}, "echo", value=object())


def test_a_call_times_out_on_time(rpc):
    rpc.serve([Endpoint()])
    client = rpc.client().prepare(timeout=0.5)
    started = time.monotonic()
    with pytest.raises(exceptions.MessagingTimeout):
        client.call({}, "sleep", seconds=1.5)
    assert 0.5 <= time.monotonic() - started < 1.2


def test_call_monitor_keeps_a_slow_call_alive_and_gives_up_on_silence(rpc):
    rpc.serve([Endpoint()])
    client = rpc.client().prepare(timeout=10, call_monitor_timeout=2)
    # The server heartbeats every second: without them the monitor gives up at 2 s.
    assert client.call({}, "sleep", seconds=2.5) == "slept 2.5"
    # A consumer that takes the request and never answers: no heartbeat.
    silent = rpc.transport._driver.listen(messaging.Target(topic=rpc.topic + "_s", server="silent"))
    silent.start(lambda incoming: None)
    try:
        started = time.monotonic()
        with pytest.raises(exceptions.MessagingTimeout, match="call monitor"):
            rpc.client(topic=rpc.topic + "_s").prepare(timeout=10, call_monitor_timeout=0.5).call(
                {}, "echo", value=1
            )
        assert 0.5 <= time.monotonic() - started < 1.5
    finally:
        silent.cleanup()


def test_a_call_to_a_topic_nobody_consumes_fails_within_a_second(rpc):
    started = time.monotonic()
    with pytest.raises(exceptions.MessageDeliveryFailure, match="No server is listening") as info:
        rpc.client(topic=rpc.topic + "_nobody").prepare(timeout=30).call({}, "echo", value=1)
    assert time.monotonic() - started < 1.0
    # Code written for oslo.messaging catches a timeout there.
    assert isinstance(info.value, exceptions.UnroutableCall)
    assert isinstance(info.value, exceptions.MessagingTimeout)
    # Where it looked: the transport, and for the embedded one its directory.
    assert rpc.driver in str(info.value)
    if rpc.driver == "embedded":
        assert rpc.transport._driver.data_dir in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        json.dumps([1, 2]),
        json.dumps({"oslo.version": "9.0", "oslo.message": "{}"}),
        json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps({"args": {}})}),
        json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps({"method": 3})}),
    ],
    ids=["not-json", "not-a-dict", "unknown-envelope", "no-method", "method-not-a-string"],
)
def test_bad_input_never_stops_a_server(rpc, body):
    endpoint = Endpoint()
    rpc.serve([endpoint])
    rpc.publish_raw(body)
    rpc.client().cast({}, "record", tag="after")
    assert endpoint.wait_records(1) == ["after"]
    assert rpc.client().call({}, "echo", value="still serving") == "still serving"
