"""Several broker hosts in one URL: dead ones are skipped."""

import pytest
from conftest import RABBIT_HOST, RABBIT_PORT
from rpc_endpoints import Recorder

pytestmark = pytest.mark.rabbit

LIVE = f"guest:guest@{RABBIT_HOST}:{RABBIT_PORT}"


@pytest.mark.parametrize(
    "hosts",
    [
        f"guest:guest@127.0.0.1:1,{LIVE}",
        f"{LIVE},guest:guest@127.0.0.1:1",
        f"guest:guest@127.0.0.1:1,guest:guest@127.0.0.1:2,{LIVE}",
    ],
    ids=["dead first", "dead last", "two dead"],
)
def test_calls_and_casts_work_when_some_hosts_are_dead(rpc, topic, hosts):
    url = f"rabbit://{hosts}/"
    recorder = Recorder()
    rpc.server(rpc.transport(url), topic, [recorder])
    # The driver shuffles the hosts: several transports try several orders.
    for attempt in range(3):
        client = rpc.client(rpc.transport(url), topic, timeout=10)
        assert client.call({}, "echo", value=attempt) == attempt
        client.cast({}, "record", value=attempt)

    assert recorder.wait_for_records(3, timeout=5) == [0, 1, 2]
