"""The embedded transport between real processes: no broker, transport_url unset.

Servers and clients are separate processes sharing only a directory; the
test process is one more client, used to read what the servers recorded.
"""

import collections
import os

import pytest
from oslo_config import cfg

from svcframe import messaging
from svcframe.messaging.drivers.embedded import location
from svcframe.testing import wait_until

pytestmark = pytest.mark.slow

TOPIC = "emb"


@pytest.fixture
def local_client(embedded_config):
    conf = cfg.ConfigOpts()
    conf(args=[], project="embedded", default_config_files=[embedded_config])
    transport = messaging.get_rpc_transport(conf)
    yield messaging.get_rpc_client(transport, messaging.Target(topic=TOPIC), timeout=20)
    transport.cleanup()


def _records_when(client, servers, done, timeout=10):
    """{server: records} once ``done(records)`` holds (casts are asynchronous)."""

    records = {}

    def records_if_done():
        records.update({s: client.prepare(server=s).call({}, "records") for s in servers})
        return records if done(records) else None

    return wait_until(records_if_done, timeout, interval=0.05, message=lambda: f"records {records}")


@pytest.mark.parametrize("embedded_config", ["state_path", "data_dir"], indirect=True)
def test_one_server_two_client_processes(peers, local_client, embedded_config, tmp_path):
    peers.server(TOPIC, "srv1").wait_ready()
    clients = [peers.start("client", name, TOPIC, name=name) for name in ("alice", "bob")]
    for client in clients:
        out = client.result()
        assert out["echo"] == {"from": client.name, "n": [1, 2]}
        assert out["add"] == len(client.name) + 1
        assert out["directed"] == {"srv1": "srv1"}
        assert out["error"] == "NoSuchMethod"

    tags = [f"{kind}-{name}" for kind in ("cast", "fanout") for name in ("alice", "bob")]
    records = _records_when(local_client, ["srv1"], lambda r: set(tags) <= set(r["srv1"]))
    assert collections.Counter(records["srv1"]) == dict.fromkeys(tags, 1)

    # The queues live where the configuration says: data_dir, or in memory
    # for the state_path.
    if "state_path" in open(embedded_config).read():
        where = location.default_data_dir(str(tmp_path / "state"))
        assert where.startswith(location.MEMORY_ROOT + "/")
    else:
        where = tmp_path / "queues"
    assert os.path.isdir(os.path.join(where, "exchanges"))


def test_fanout_reaches_every_server_process(peers, local_client):
    servers = ["srv1", "srv2"]
    for peer in [peers.server(TOPIC, name) for name in servers]:
        peer.wait_ready()
    out = peers.start("client", "carol", TOPIC, name="carol", servers="srv1,srv2").result()
    assert out["directed"] == {"srv1": "srv1", "srv2": "srv2"}

    def done(records):
        everywhere = all("fanout-carol" in r for r in records.values())
        return everywhere and sum(r.count("cast-carol") for r in records.values()) >= 1

    records = _records_when(local_client, servers, done)
    for name in servers:
        assert records[name].count("fanout-carol") == 1, records
    # A plain cast goes to one server only.
    assert sum(r.count("cast-carol") for r in records.values()) == 1, records


def test_competing_servers_share_the_load_exactly_once(peers, local_client):
    servers = ["srv1", "srv2"]
    for peer in [peers.server(TOPIC, name) for name in servers]:
        peer.wait_ready()
    loads = [
        peers.start("load", f"load{n}", TOPIC, start=n * 100, count=100, threads=4)
        for n in range(2)
    ]
    answers = {}
    for load in loads:
        answers.update({int(item): server for item, server in load.result().items()})
    assert sorted(answers) == list(range(200))

    taken = {s: local_client.prepare(server=s).call({}, "taken") for s in servers}
    every = taken["srv1"] + taken["srv2"]
    # No request was processed twice, none was lost, and the reply came from
    # the server that processed it.
    assert sorted(every) == list(range(200))
    for server, items in taken.items():
        assert all(answers[item] == server for item in items)
    # Both servers did a fair part of the work.
    assert min(len(items) for items in taken.values()) >= 20, {s: len(i) for s, i in taken.items()}
