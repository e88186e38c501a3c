"""oslo.messaging and svcframe servers share one topic and server name on one broker.

Both declare the control exchange, the ``<topic>`` and ``<topic>.<server>``
queues and the ``<topic>_fanout`` exchange.  Any difference in durability,
auto-delete or x-arguments makes the second declare fail with 406
PRECONDITION_FAILED; here both start, in either order, in the default and
in the quorum configuration, and both take a share of the calls.
"""

import collections
import time

import amqp.exceptions
import pytest
from interop_harness import QUORUM, unique, write_config
from oslo_config import cfg

from svcframe import messaging
from svcframe.testing import wait_until

pytestmark = [pytest.mark.rabbit, pytest.mark.slow]

TOPIC = "shared"
SERVER = "host-a"


def _client_transport(config):
    conf = cfg.ConfigOpts()
    conf(args=[], project="interop", default_config_files=[config], default_config_dirs=[])
    return messaging.get_rpc_transport(conf)


def _declare_as_third_party(rabbit, queue_name, quorum):
    """Re-declare a shared queue with the flags the configuration implies: 406 if they differ."""
    arguments = {"x-queue-type": "quorum"} if quorum else {}
    channel = rabbit.channel()
    try:
        channel.queue_declare(
            queue_name, durable=quorum, auto_delete=False, exclusive=False, arguments=arguments
        )
    finally:
        channel.close()


@pytest.mark.parametrize("order", [("oslo", "svcframe"), ("svcframe", "oslo")], ids="-then-".join)
@pytest.mark.parametrize("quorum", [False, True], ids=["default", "quorum"])
def test_both_servers_share_queues_and_serve(rabbit, janitor, peers, tmp_path, quorum, order):
    exchange = unique("shared")
    janitor.add_server_entities(exchange, TOPIC, SERVER)
    config = write_config(tmp_path, exchange, **(QUORUM if quorum else {}))

    for impl in order:
        # wait_ready fails with the peer's stderr (the 406) if it cannot declare.
        peers.server(impl, config, TOPIC, SERVER).wait_ready()

    # The shared queues really are what the configuration asks for.
    for queue_name in (TOPIC, f"{TOPIC}.{SERVER}"):
        _declare_as_third_party(rabbit, queue_name, quorum)
    if quorum:
        with pytest.raises(amqp.exceptions.PreconditionFailed):
            _declare_as_third_party(rabbit, TOPIC, quorum=False)
        rabbit.ensure_connection(max_retries=1)

    transport = _client_transport(config)
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=TOPIC), timeout=15)
        # Competing consumers: both libraries take calls from the topic queue
        # and from the server queue they share.
        by_topic = collections.Counter(client.call({}, "whoami")["impl"] for _ in range(10))
        directed = client.prepare(server=SERVER)
        by_server = collections.Counter(directed.call({}, "whoami")["impl"] for _ in range(10))
        assert set(by_topic) == {"oslo", "svcframe"}, by_topic
        assert set(by_server) == {"oslo", "svcframe"}, by_server

        # A fanout cast reaches both; ask until each library's server said so.
        client.prepare(fanout=True).cast({}, "record", tag="fanout")
        received = set()

        def both_received():
            answer = client.call({}, "has_record", tag="fanout")
            if answer["found"]:
                received.add(answer["impl"])
            return received == {"oslo", "svcframe"}

        wait_until(both_received, 10, message=lambda: f"the fanout cast in both; got {received}")
    finally:
        transport.cleanup()


def test_mismatched_configuration_fails_start_at_once(janitor, peers, tmp_path):
    """The check above is not vacuous: a real mismatch is a prompt, clear start failure."""
    exchange = unique("mismatch")
    janitor.add_server_entities(exchange, TOPIC, SERVER)
    quorum_dir, default_dir = tmp_path / "quorum", tmp_path / "default"
    quorum_dir.mkdir()
    default_dir.mkdir()
    peers.server("oslo", write_config(quorum_dir, exchange, **QUORUM), TOPIC, SERVER).wait_ready()
    start = time.monotonic()
    svcframe_server = peers.server("svcframe", write_config(default_dir, exchange), TOPIC, SERVER)
    with pytest.raises(AssertionError, match="PRECONDITION_FAILED") as failure:
        svcframe_server.wait_ready(timeout=20)
    assert "before it was ready" in str(failure.value)
    assert time.monotonic() - start < 10
