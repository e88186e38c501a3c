"""oslo.messaging and svcframe clients against oslo.messaging and svcframe servers.

One scenario (calls, casts, fanout, server-directed calls, namespaces and
versions, exceptions, call-monitor heartbeats, timeouts) runs from each
library's client against two servers of each library: the four outcome
tables must agree, so a peer cannot tell which library it talks to.
"""

import copy

import pytest
from interop_harness import Janitor, PeerGroup, unique, write_config

pytestmark = [pytest.mark.rabbit, pytest.mark.slow]

IMPLS = ("oslo", "svcframe")
SERVERS = ("srv1", "srv2")

# The one deliberate difference: both servers answer a wrong argument name
# with a TypeError, but an svcframe server checks the names before calling
# the method and its message names the RPC method, where oslo.messaging's is
# the one Python gave the call.
KNOWN_DIFFERENCES = {"wrong_argument"}


@pytest.fixture(scope="module")
def outcomes(rabbit, tmp_path_factory):
    """{(client impl, server impl): outcome table}, from four scenario runs in parallel."""

    log_dir = tmp_path_factory.mktemp("rpc-interop")
    exchange = unique("interop")
    config = write_config(log_dir, exchange)
    topics = {impl: f"{exchange}-{impl}" for impl in IMPLS}
    group = PeerGroup(log_dir)
    janitor = Janitor(rabbit)
    try:
        servers = []
        for impl in IMPLS:
            for name in SERVERS:
                janitor.add_server_entities(exchange, topics[impl], name)
                servers.append(group.server(impl, config, topics[impl], name))
        for server in servers:
            server.wait_ready()
        runs = {
            (client, server): group.start(
                "scenario",
                client,
                config,
                topics[server],
                name=f"scenario-{client}-to-{server}",
                servers=",".join(SERVERS),
                tag=f"{client}-{server}",
            )
            for client in IMPLS
            for server in IMPLS
        }
        yield {key: peer.result() for key, peer in runs.items()}
    finally:
        group.stop_all()
        janitor.cleanup()


def _comparable(table):
    table = copy.deepcopy(table)
    for key in KNOWN_DIFFERENCES:
        table.pop(key, None)
    for name in SERVERS:
        # Which library answered is the one thing that must differ.
        table[f"directed_{name}"]["ok"].pop("impl")
    return table


def _diff(a, b):
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


@pytest.mark.parametrize("client", IMPLS)
def test_client_gets_the_same_outcomes_from_both_servers(outcomes, client):
    from_oslo = _comparable(outcomes[(client, "oslo")])
    from_svcframe = _comparable(outcomes[(client, "svcframe")])
    assert _diff(from_oslo, from_svcframe) == {}


@pytest.mark.parametrize("server", IMPLS)
def test_both_clients_get_the_same_outcomes_from_a_server(outcomes, server):
    by_oslo = _comparable(outcomes[("oslo", server)])
    by_svcframe = _comparable(outcomes[("svcframe", server)])
    assert _diff(by_oslo, by_svcframe) == {}


@pytest.mark.parametrize("client", IMPLS)
@pytest.mark.parametrize("server", IMPLS)
def test_outcomes_are_the_expected_ones(outcomes, client, server):
    """The tables agree; they must also be right, or agreeing proves little."""
    out = outcomes[(client, server)]
    ok = {name: value["ok"] for name, value in out.items() if "ok" in value}
    assert ok["echo"] == {"a": [1, 2.5, "x"], "b": None}
    assert ok["echo_unicode"] == "h\u00e9llo \u20ac \U0001f600"
    assert ok["echo_64k"] is True
    assert ok["add"] == 42
    assert ok["nothing"] is None
    assert ok["primitive"] == {"tuple": [1, 2], "set": [3]}
    assert ok["context"] == {
        "user_id": "user-1",
        "project_id": "project-1",
        "roles": ["reader", "member"],
        "is_admin": False,
        "request_id": "req-scenario",
        "client_timeout": None,
    }
    assert ok["context_with_monitor"]["client_timeout"] == 4

    # Allowed module: re-raised as itself, keyword arguments included.
    assert out["custom_allowed"] == {
        "error": "raised",
        "class": "InteropError",
        "module": "interop_exc",
        "message": "bad",
        "kwargs": {"code": 7},
    }
    assert ok["custom_allowed_isinstance"] == {"isinstance": True, "code": 7}
    # Not allowed: RemoteError naming the remote class.
    assert out["custom_not_allowed"] == {
        "error": "RemoteError",
        "exc_type": "InteropError",
        "value": "bad",
    }
    assert out["unlisted"]["exc_type"] == "UnlistedError"
    # Builtins are always re-raised as themselves.
    for name in ("value_error", "value_error_strict"):
        assert out[name]["class"] == "ValueError"
        assert out[name]["module"] == "builtins"
        assert out[name]["message"] == "no good"

    def remote(name):
        assert out[name]["error"] == "RemoteError", out[name]
        return out[name]["exc_type"]

    assert remote("no_such_method") == "NoSuchMethod"
    assert remote("private_method") == "NoSuchMethod"
    assert remote("ns_missing_method") == "NoSuchMethod"
    assert remote("ns_method_without_ns") == "NoSuchMethod"
    assert remote("version_2_0") == "UnsupportedVersion"
    assert remote("version_1_1") == "UnsupportedVersion"
    assert remote("ns_1_4") == "UnsupportedVersion"
    assert remote("ns_unknown") == "UnsupportedVersion"
    assert ok["version_1_0"] == 1
    assert ok["ns_1_2"] == ok["ns_1_3"] == {"ns": "v"}

    for name in SERVERS:
        assert ok[f"directed_{name}"] == {"server": name, "impl": server}
    assert ok["call_monitor_heartbeats"] == 3
    assert ok["call_timeout"] == {"timeout": True, "prompt": True}
    assert ok["fanout_reached"] == list(SERVERS)
    assert ok["cast_received"] == 1


@pytest.mark.parametrize("client", IMPLS)
def test_wrong_argument_name_is_a_type_error_from_both_servers(outcomes, client):
    by_oslo = outcomes[(client, "oslo")]["wrong_argument"]
    by_svcframe = outcomes[(client, "svcframe")]["wrong_argument"]
    for outcome in (by_oslo, by_svcframe):
        assert outcome["error"] == "raised"
        assert (outcome["class"], outcome["module"]) == ("TypeError", "builtins")
        assert "argument 'c'" in outcome["message"]
    assert by_svcframe["message"] == "RPC method 'add' got an unexpected argument 'c'"
