"""Quorum mode: rabbit_quorum_queue and rabbit_transient_quorum_queue on the real broker.

Every queue is then durable, so each test uses a control exchange of its
own (a durable exchange would clash with the default non-durable
'openstack') and deletes its queues and exchanges at the end.
"""

import json

import pytest
from conftest import RABBIT_URL, new_conf, rabbitmqctl, reply_queue_name, unique
from rpc_endpoints import Recorder

pytestmark = pytest.mark.rabbit

QUORUM_OPTIONS = {"rabbit_quorum_queue": True, "rabbit_transient_quorum_queue": True}
TTL = 300


def broker_queues():
    listing = rabbitmqctl(
        "list_queues", "-q", "--formatter", "json", "name", "type", "durable", "arguments"
    )
    queues = {}
    for queue in json.loads(listing):
        arguments = {name: value for name, _, value in queue["arguments"]}
        queues[queue["name"]] = (queue["type"], queue["durable"], arguments)
    return queues


def broker_exchanges():
    listing = rabbitmqctl(
        "list_exchanges", "-q", "--formatter", "json", "name", "type", "durable", "auto_delete"
    )
    return {e["name"]: (e["type"], e["durable"], e["auto_delete"]) for e in json.loads(listing)}


@pytest.fixture(params=["config options", "URL query"])
def quorum_transport(request, rpc):
    """A transport in quorum mode, set either in the config or in the transport URL."""
    exchange = unique("sfquorum")
    rpc.forget_exchanges(exchange)
    if request.param == "config options":
        conf = new_conf(rabbit_transient_queues_ttl=TTL, **QUORUM_OPTIONS)
        url = RABBIT_URL
    else:
        conf = new_conf(rabbit_transient_queues_ttl=TTL)
        url = f"{RABBIT_URL}?rabbit_quorum_queue=true&rabbit_transient_quorum_queue=true"
    conf.set_override("control_exchange", exchange)
    return rpc.transport(url, conf=conf), exchange


def test_call_cast_and_fanout_work_on_quorum_queues(rpc, topic, quorum_transport):
    transport, exchange = quorum_transport
    endpoints = [Recorder("server-a"), Recorder("server-b")]
    for endpoint in endpoints:
        rpc.server(transport, topic, [endpoint], server=endpoint.name)
    client = rpc.client(transport, topic, timeout=10)

    assert client.call({}, "echo", value="quorum") == "quorum"
    assert client.prepare(server="server-b").call({}, "whoami") == "server-b"
    client.prepare(server="server-a").cast({}, "record", value="cast")
    client.prepare(fanout=True).cast({}, "record", value="fanout")

    assert endpoints[0].wait_for_records(2, timeout=10) == ["cast", "fanout"]
    assert endpoints[1].wait_for_records(1, timeout=10) == ["fanout"]


def test_queues_are_declared_as_quorum_queues(rpc, topic, quorum_transport):
    transport, exchange = quorum_transport
    rpc.server(transport, topic, [Recorder()], server="server-a")
    client = rpc.client(transport, topic, timeout=10)
    assert client.call({}, "echo", value=1) == 1

    queues = broker_queues()
    reply_queue = reply_queue_name(transport)
    fanout_queues = [name for name in queues if name.startswith(f"{topic}_fanout_")]
    rpc.forget_queues(reply_queue, *fanout_queues)

    assert queues[topic] == ("quorum", True, {"x-queue-type": "quorum"})
    assert queues[f"{topic}.server-a"] == ("quorum", True, {"x-queue-type": "quorum"})
    expiring = ("quorum", True, {"x-queue-type": "quorum", "x-expires": TTL * 1000})
    assert queues[reply_queue] == expiring
    assert len(fanout_queues) == 1
    assert queues[fanout_queues[0]] == expiring
    exchanges = broker_exchanges()
    assert exchanges[exchange] == ("topic", True, False)
    assert exchanges[f"{topic}_fanout"] == ("fanout", True, True)
