"""RPCDispatcher: oslo.messaging's matching rules, request validation, the watchdog."""

import logging
import threading
import time
from concurrent import futures
from unittest import mock

import pytest
from oslo_config import cfg

from svcframe import messaging
from svcframe.manager import Manager, periodic_task
from svcframe.messaging import exceptions
from svcframe.messaging.dispatcher import RPCDispatcher, rpc_method
from svcframe.messaging.drivers.base import IncomingMessage
from svcframe.messaging.serializer import RequestContextSerializer


class Incoming(IncomingMessage):
    """An IncomingMessage that records heartbeats and replies."""

    def __init__(self, message, ctxt=None, client_timeout=None):
        super().__init__(ctxt or {}, message, "msg-id", client_timeout)
        self.heartbeats = []

    def reply(self, reply=None, failure=None):
        raise AssertionError("the dispatcher never replies")

    def heartbeat(self):
        self.heartbeats.append(time.monotonic())


def endpoint(name, namespace=None, version=None, target=True, methods=("foo",)):
    attrs = {m: (lambda self, ctxt, _m=m, **kw: (name, _m, kw)) for m in methods}
    if target:
        attrs["target"] = messaging.Target(namespace=namespace, version=version)
    return type(name, (), attrs)()


def dispatch(endpoints, message, access_policy=None, **kw):
    dispatcher = RPCDispatcher(endpoints, None, access_policy, **kw)
    return dispatcher.dispatch(Incoming(message))


# (endpoints, message, expected endpoint name or exception class)
MATCH_CASES = [
    pytest.param([endpoint("a")], {"method": "foo"}, "a", id="no-version-defaults-1.0"),
    pytest.param([endpoint("a", target=False)], {"method": "foo"}, "a", id="no-target"),
    pytest.param(
        [endpoint("a", target=False)],
        {"method": "foo", "version": "1.5"},
        exceptions.UnsupportedVersion,
        id="no-target-is-1.0",
    ),
    pytest.param(
        [endpoint("a", version="1.5")], {"method": "foo", "version": "1.3"}, "a", id="minor-below"
    ),
    pytest.param(
        [endpoint("a", version="1.5")],
        {"method": "foo", "version": "1.6"},
        exceptions.UnsupportedVersion,
        id="minor-above",
    ),
    pytest.param(
        [endpoint("a", version="2.0")],
        {"method": "foo", "version": "1.0"},
        exceptions.UnsupportedVersion,
        id="major-below",
    ),
    pytest.param(
        [endpoint("a", version="1.5.2")],
        {"method": "foo", "version": "1.5.2"},
        "a",
        id="revision-equal",
    ),
    pytest.param(
        [endpoint("a", version="1.5.2")],
        {"method": "foo", "version": "1.5.3"},
        exceptions.UnsupportedVersion,
        id="revision-above",
    ),
    pytest.param(
        [endpoint("a", version="1.5")],
        {"method": "foo", "version": "1.4.9"},
        "a",
        id="revision-ignored-below-minor",
    ),
    pytest.param(
        [endpoint("a", version="1.5")],
        {"method": "foo", "version": "1.5.1"},
        exceptions.UnsupportedVersion,
        id="revision-above-implicit-0",
    ),
    pytest.param(
        [endpoint("a", namespace="ns")],
        {"method": "foo"},
        exceptions.UnsupportedVersion,
        id="namespace-required",
    ),
    pytest.param(
        [endpoint("a", namespace="ns")],
        {"method": "foo", "namespace": "ns"},
        "a",
        id="namespace-match",
    ),
    pytest.param(
        [endpoint("a")],
        {"method": "foo", "namespace": "ns"},
        exceptions.UnsupportedVersion,
        id="namespace-unknown",
    ),
    pytest.param(
        [endpoint("a", version="1.0"), endpoint("b", version="1.0")],
        {"method": "foo"},
        "a",
        id="first-match-wins",
    ),
    pytest.param(
        [endpoint("a", version="1.0"), endpoint("b", version="1.3")],
        {"method": "foo", "version": "1.2"},
        "b",
        id="skips-incompatible",
    ),
    pytest.param(
        [endpoint("a", methods=("bar",)), endpoint("b")],
        {"method": "foo"},
        "b",
        id="skips-endpoint-without-method",
    ),
    pytest.param(
        [endpoint("a", methods=("bar",))],
        {"method": "foo"},
        exceptions.NoSuchMethod,
        id="no-such-method",
    ),
    pytest.param(
        [endpoint("a", methods=("bar",)), endpoint("b", version="2.0")],
        {"method": "foo"},
        exceptions.NoSuchMethod,
        id="no-such-method-beats-version",
    ),
    pytest.param(
        [endpoint("a", methods=("_private",))],
        {"method": "_private"},
        exceptions.NoSuchMethod,
        id="private-denied",
    ),
    pytest.param(
        [endpoint("a", methods=("foo",))],
        {"method": "__class__"},
        exceptions.NoSuchMethod,
        id="dunder-denied",
    ),
]


@pytest.mark.parametrize(("endpoints", "message", "expected"), MATCH_CASES)
def test_matching(endpoints, message, expected):
    if isinstance(expected, str):
        name, method, _ = dispatch(endpoints, message)
        assert (name, method) == (expected, message["method"])
    else:
        with pytest.raises(expected):
            dispatch(endpoints, message)


def test_legacy_namespaces_are_accepted():
    ep = endpoint("a")
    ep.target = messaging.Target(namespace="new", legacy_namespaces=["old"])
    assert dispatch([ep], {"method": "foo", "namespace": "old"})[0] == "a"
    assert dispatch([ep], {"method": "foo", "namespace": "new"})[0] == "a"
    with pytest.raises(exceptions.UnsupportedVersion):
        dispatch([ep], {"method": "foo"})


def test_unsupported_version_names_version_and_method():
    with pytest.raises(exceptions.UnsupportedVersion) as info:
        dispatch([endpoint("a", version="1.0")], {"method": "foo", "version": "3.1"})
    assert (info.value.version, info.value.method) == ("3.1", "foo")


class Exposed:
    @messaging.expose
    def shown(self, ctxt):
        return "shown"

    def hidden(self, ctxt):
        return "hidden"

    def _private(self, ctxt):
        return "private"


POLICY_CASES = [
    (None, "hidden", "hidden"),
    (None, "_private", exceptions.NoSuchMethod),
    (messaging.DefaultRPCAccessPolicy, "_private", exceptions.NoSuchMethod),
    (messaging.ExplicitRPCAccessPolicy, "shown", "shown"),
    (messaging.ExplicitRPCAccessPolicy, "hidden", exceptions.NoSuchMethod),
    (messaging.ExplicitRPCAccessPolicy, "_private", exceptions.NoSuchMethod),
    (messaging.LegacyRPCAccessPolicy, "_private", "private"),
    (messaging.LegacyRPCAccessPolicy(), "hidden", "hidden"),
]


@pytest.mark.parametrize(("policy", "method", "expected"), POLICY_CASES)
def test_access_policies(policy, method, expected):
    if isinstance(expected, str):
        assert dispatch([Exposed()], {"method": method}, policy) == expected
    else:
        with pytest.raises(expected):
            dispatch([Exposed()], {"method": method}, policy)


class Base:
    def inherited(self, ctxt):
        return "inherited"

    def overridden(self, ctxt):
        return "base"


class Surface(Base):
    """One of each kind of attribute a request could name."""

    constant = "a class attribute"
    nested = Exposed
    callable_object = staticmethod(len).__func__

    def __init__(self):
        self.instance_attr = lambda ctxt: "instance attribute"
        self.conf = lambda *args: "a configuration"

    def overridden(self, ctxt):
        return "subclass"

    @property
    def prop(self):
        raise AssertionError("a property is never evaluated by the dispatcher")

    @classmethod
    def from_class(cls, ctxt):
        return cls.__name__

    @staticmethod
    def static(ctxt):
        return "static"

    @periodic_task.periodic_task(spacing=60)
    def task(self, ctxt):
        raise AssertionError("a periodic task is not an RPC method")

    @messaging.expected_exceptions(ValueError)
    def decorated(self, ctxt):
        return "decorated"


SURFACE_CASES = [
    ("inherited", "inherited"),
    ("overridden", "subclass"),
    ("from_class", "Surface"),
    ("static", "static"),
    ("decorated", "decorated"),
    ("instance_attr", exceptions.NoSuchMethod),
    ("conf", exceptions.NoSuchMethod),
    ("prop", exceptions.NoSuchMethod),
    ("constant", exceptions.NoSuchMethod),
    ("nested", exceptions.NoSuchMethod),
    ("callable_object", exceptions.NoSuchMethod),
    ("task", exceptions.NoSuchMethod),
    ("__init__", exceptions.NoSuchMethod),
    ("__class__", exceptions.NoSuchMethod),
    ("target", exceptions.NoSuchMethod),
    ("missing", exceptions.NoSuchMethod),
]


@pytest.mark.parametrize(
    "policy",
    [None, messaging.LegacyRPCAccessPolicy, messaging.ExplicitRPCAccessPolicy],
    ids=["default", "legacy", "explicit"],
)
@pytest.mark.parametrize(("method", "expected"), SURFACE_CASES)
def test_only_functions_defined_on_the_class_are_rpc_methods(policy, method, expected):
    ep = Surface()
    if policy is messaging.ExplicitRPCAccessPolicy and isinstance(expected, str):
        expected = exceptions.NoSuchMethod  # none of them is exposed
    if isinstance(expected, str):
        assert dispatch([ep], {"method": method}, policy) == expected
    else:
        with pytest.raises(expected):
            dispatch([ep], {"method": method}, policy)
    assert ep.conf() == "a configuration"


def test_a_refused_name_falls_through_to_the_next_endpoint():
    # As an unknown method: a later endpoint that has it answers.
    assert dispatch([Surface(), endpoint("b", methods=("conf",))], {"method": "conf"}) == (
        "b",
        "conf",
        {},
    )


def test_a_manager_serves_only_what_its_subclass_defines():
    conf = cfg.ConfigOpts()
    conf([])

    class Component(Manager):
        def api(self, ctxt):
            return "api"

        def init_host(self, service_ref=None):
            raise AssertionError("a hook is not an RPC method, even when overridden")

        @periodic_task.periodic_task(spacing=60)
        def sweep(self, ctxt):
            raise AssertionError("a periodic task is not an RPC method")

    manager = Component(host="node1", conf=conf)
    assert dispatch([manager], {"method": "api"}) == "api"
    refused = ["conf", "host", "sweep", "additional_endpoints", "service_name", "target"]
    refused += sorted(Manager._rpc_reserved_names)
    for name in refused:
        for policy in (None, messaging.LegacyRPCAccessPolicy):
            with pytest.raises(exceptions.NoSuchMethod):
                dispatch([manager], {"method": name, "args": {}}, policy)
    assert manager.host == "node1"
    assert {"init_host", "reset", "periodic_tasks", "run_periodic_tasks"} <= (
        Manager._rpc_reserved_names
    )


def test_rpc_method_ignores_names_that_are_not_strings():
    assert not rpc_method(Surface(), 42)


def test_access_policy_must_be_a_policy():
    with pytest.raises(TypeError, match="RPCAccessPolicyBase"):
        RPCDispatcher([], None, access_policy=object)


def test_endpoint_target_must_be_a_target():
    class Bad:
        def target(self, ctxt):
            return None

    with pytest.raises(TypeError, match="reserved endpoint attribute"):
        RPCDispatcher([Bad()], None)


def test_endpoint_version_must_parse():
    with pytest.raises(ValueError, match="invalid target version"):
        RPCDispatcher([endpoint("a", version="one")], None)


class Echo:
    def echo(self, ctxt, value, other=None):
        return {"value": value, "other": other}

    def anything(self, ctxt, **kwargs):
        return kwargs

    def fails_inside(self, ctxt):
        return {}.pop(1, 2, 3)

    def no_ctxt(self):
        return "unreachable"


INVALID_CASES = [
    ("not a dict", "must be an object, not str"),
    ({}, "has no 'method'"),
    ({"method": 3}, "'method' must be a string, not int"),
    ({"method": "echo", "args": [1]}, "'args' of RPC method 'echo' must be an object, not list"),
    ({"method": "echo", "args": None}, "must be an object, not NoneType"),
    ({"method": "echo", "args": {"value": 1}, "namespace": 5}, "'namespace' of RPC method"),
    ({"method": "echo", "args": {"value": 1}, "version": 1.0}, "must be a string, not float"),
    ({"method": "echo", "args": {"value": 1}, "version": None}, "must be a string, not NoneType"),
    ({"method": "echo", "args": {"value": 1}, "version": "1"}, "no minor part"),
    ({"method": "echo", "args": {"value": 1}, "version": "1.x"}, "not made of integers"),
]

# Arguments that do not fit the method: a TypeError, as oslo.messaging's callers get.
WRONG_ARGUMENT_CASES = [
    (
        {"method": "echo", "args": {"value": 1, "y": 2}},
        "RPC method 'echo' got an unexpected argument 'y'",
    ),
    ({"method": "echo", "args": {}}, "RPC method 'echo' missing a required argument: 'value'"),
    ({"method": "echo", "args": {"ctxt": 1, "value": 2}}, "multiple values for argument 'ctxt'"),
    ({"method": "no_ctxt"}, "RPC method 'no_ctxt' too many positional arguments"),
]


@pytest.mark.parametrize(("message", "error"), INVALID_CASES)
def test_invalid_requests(message, error):
    with pytest.raises(exceptions.InvalidRequest) as info:
        dispatch([Echo()], message)
    assert error in str(info.value)


@pytest.mark.parametrize(("message", "error"), WRONG_ARGUMENT_CASES)
def test_wrong_arguments_are_a_type_error_marked_as_the_callers(message, error):
    with pytest.raises(TypeError) as info:
        dispatch([Echo()], message)
    assert type(info.value) is TypeError and info.value.caller_error
    assert error in str(info.value)


def test_absent_args_mean_no_arguments():
    assert dispatch([Echo()], {"method": "anything"}) == {}


def test_var_keyword_methods_take_any_argument():
    assert dispatch([Echo()], {"method": "anything", "args": {"a-b": 1}}) == {"a-b": 1}


def test_type_error_inside_the_method_is_not_the_callers():
    with pytest.raises(TypeError) as info:
        dispatch([Echo()], {"method": "fails_inside"})
    assert not getattr(info.value, "caller_error", False)


def test_mocked_methods_are_dispatched():
    ep = Echo()
    with mock.patch.object(ep, "echo", return_value="mocked") as fake:
        assert dispatch([ep], {"method": "echo", "args": {"whatever": 1}}) == "mocked"
    fake.assert_called_once_with({}, whatever=1)


class Recording(messaging.Serializer):
    def __init__(self):
        self.calls = []

    def serialize_entity(self, ctxt, entity):
        self.calls.append(("serialize_entity", entity))
        return {"wrapped": entity}

    def deserialize_entity(self, ctxt, entity):
        self.calls.append(("deserialize_entity", entity))
        return entity * 2

    def serialize_context(self, ctxt):
        raise AssertionError("not used by a server")

    def deserialize_context(self, ctxt):
        self.calls.append(("deserialize_context", ctxt))
        return "CTXT"


def test_serializer_hooks_in_oslo_order():
    seen = []

    class Ep:
        def m(self, ctxt, a):
            seen.append((ctxt, a))
            return a + 1

    serializer = Recording()
    dispatcher = RPCDispatcher([Ep()], serializer)
    result = dispatcher.dispatch(Incoming({"method": "m", "args": {"a": 5}}, ctxt={"u": 1}))
    assert result == {"wrapped": 11}
    assert seen == [("CTXT", 10)]
    assert serializer.calls == [
        ("deserialize_context", {"u": 1}),
        ("deserialize_entity", 5),
        ("serialize_entity", 11),
    ]


def test_request_context_serializer_on_the_server_side():
    seen = []

    class Ep:
        def m(self, ctxt):
            seen.append(ctxt)

    dispatcher = RPCDispatcher([Ep()], RequestContextSerializer())
    ctxt = {"user_id": "u", "project_id": "p", "client_timeout": None, "custom": 1}
    dispatcher.dispatch(Incoming({"method": "m"}, ctxt=ctxt))
    assert seen[0].user_id == "u" and seen[0].extra == {"custom": 1}


def test_ping_endpoint(caplog):
    assert dispatch([Echo()], {"method": "oslo_rpc_server_ping"}, ping_enabled=True) == "pong"
    with pytest.raises(exceptions.NoSuchMethod):
        dispatch([Echo()], {"method": "oslo_rpc_server_ping"})


def test_ping_endpoint_not_added_over_an_existing_one(caplog):
    class Own:
        def oslo_rpc_server_ping(self, ctxt):
            return "own"

    with caplog.at_level(logging.WARNING):
        dispatcher = RPCDispatcher([Own()], None, ping_enabled=True)
    assert len(dispatcher.endpoints) == 1
    assert dispatcher.dispatch(Incoming({"method": "oslo_rpc_server_ping"})) == "own"
    assert "reserved endpoint attribute" in caplog.text


def test_dispatcher_does_not_change_the_callers_endpoint_list():
    endpoints = [Echo()]
    RPCDispatcher(endpoints, None, ping_enabled=True)
    assert len(endpoints) == 1


class Slow:
    def __init__(self):
        self.release = threading.Event()

    def wait(self, ctxt, seconds):
        time.sleep(seconds)
        return "done"

    def fail_after(self, ctxt, seconds):
        time.sleep(seconds)
        raise RuntimeError("late failure")


def _watchdog_threads():
    return [t for t in threading.enumerate() if t.name == "rpc-call-monitor"]


class BrokenHeartbeat(Incoming):
    def heartbeat(self):
        super().heartbeat()
        raise ConnectionError("broker gone")


def test_watchdog_heartbeats_every_half_client_timeout():
    # Three calls of 2.1 s run side by side to keep the test short.
    cases = {
        "every second": Incoming({"method": "wait", "args": {"seconds": 2.1}}, client_timeout=2),
        "every 1.5 s": Incoming({"method": "wait", "args": {"seconds": 2.1}}, client_timeout=3),
        "stops on error": BrokenHeartbeat(
            {"method": "wait", "args": {"seconds": 2.1}}, client_timeout=2
        ),
    }
    dispatcher = RPCDispatcher([Slow()], None)
    started = time.monotonic()
    with futures.ThreadPoolExecutor(len(cases)) as pool:
        results = list(pool.map(dispatcher.dispatch, cases.values()))
    assert results == ["done"] * 3
    offsets = {
        name: [round(t - started, 1) for t in incoming.heartbeats]
        for name, incoming in cases.items()
    }
    assert offsets == {"every second": [1.0, 2.0], "every 1.5 s": [1.5], "stops on error": [1.0]}
    assert not _watchdog_threads()


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"method": "missing"}, exceptions.NoSuchMethod),
        ({"method": "wait", "version": "9.0"}, exceptions.UnsupportedVersion),
        ({"method": 1}, exceptions.InvalidRequest),
        ({"method": "fail_after", "args": {"seconds": 0.01}}, RuntimeError),
    ],
)
def test_watchdog_always_stops(message, error):
    incoming = Incoming(message, client_timeout=60)
    with pytest.raises(error):
        RPCDispatcher([Slow()], None).dispatch(incoming)
    assert not _watchdog_threads()
    assert incoming.heartbeats == []


@pytest.mark.parametrize("client_timeout", [1, "soon", 0.5])
def test_watchdog_refuses_too_short_timeouts(client_timeout, caplog):
    incoming = Incoming({"method": "wait", "args": {"seconds": 0}}, client_timeout=client_timeout)
    with caplog.at_level(logging.WARNING):
        assert RPCDispatcher([Slow()], None).dispatch(incoming) == "done"
    assert "invalid timeout value" in caplog.text
    assert incoming.heartbeats == []


VERSION_CASES = [
    (None, "1.0", True),
    ("1.0", None, False),
    ("1.0", "1.0", True),
    ("1.3", "1.2", True),
    ("1.2", "1.3", False),
    ("2.0", "1.0", False),
    ("1.0", "2.0", False),
    ("1.2.1", "1.2.1", True),
    ("1.2.1", "1.2.2", False),
    ("1.2", "1.1.9", True),
    ("1.2", "1.2.1", False),
]


@pytest.mark.parametrize(("imp", "req", "expected"), VERSION_CASES)
def test_version_is_compatible_matches_oslo(imp, req, expected):
    from oslo_messaging import _utils as oslo_utils

    assert messaging.version_is_compatible(imp, req) is expected
    assert oslo_utils.version_is_compatible(imp, req) is expected
