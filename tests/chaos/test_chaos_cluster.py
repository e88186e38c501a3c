"""A 3-node RabbitMQ cluster in quorum mode loses the node everyone is connected to.

The service and its clients list the three nodes and connect to the first;
it is killed with SIGKILL under call and cast load.  Quorum queues have a
leader elsewhere within seconds: no call may fail and no cast be lost.
"""

import time

import pytest
from chaos_harness import CallLoad, CastLoad, wait_processed
from conftest import full_only
from private_rabbit import PrivateCluster, rabbit_available

pytestmark = pytest.mark.chaos

# Nodes chaos4..chaos6: chaos1 is the single node of the other tests.
FIRST_NODE = 4
LOAD_BEFORE = 3
LOAD_AFTER = 15


@pytest.fixture(scope="module")
def cluster():
    reason = rabbit_available()
    if reason:
        pytest.skip(f"private RabbitMQ nodes cannot run here: {reason}")
    with PrivateCluster(3, first=FIRST_NODE) as cluster:
        yield cluster


@full_only
def test_connected_node_killed_in_quorum_mode(cluster, launch, figures):
    quorum = {"rabbit_quorum_queue": "true"}
    run = launch(cluster.url(1, 2, 3), workers=2, oslo_messaging_rabbit=quorum).start()
    run.wait_ready(timeout=90)
    with run.client() as caster, run.client() as caller:
        with CastLoad(caster, interval=0.01) as cast_load:
            with CallLoad(caller, threads=8, timeout=30) as call_load:
                call_load.wait_successes(50, 30)
                time.sleep(LOAD_BEFORE)
                killed_at = time.monotonic()
                cluster.node(1).kill()
                time.sleep(LOAD_AFTER)
            calls = call_load.report()
            after = [o.finished - killed_at for o in call_load.successes() if o.started > killed_at]
        report = wait_processed(run, cast_load.sent, timeout=60)

    figures(
        **report,
        cast_errors=len(cast_load.errors),
        **calls,
        calls_back_after_s=round(min(after), 2) if after else None,
    )
    assert calls["errors"] == {}
    assert calls["hung"] == 0
    assert report["lost"] == 0
    assert not cast_load.errors
