"""The broker restarts while calls and casts flow: nothing hangs, nothing is silently lost.

Stops and starts the RabbitMQ application of a private node
(``restart10@localhost`` on port 5690, see tests/private_rabbit.py), never
the broker the other tests share on 5672; the node is started once for the
module and its application always started again, even when a test fails.
Non-durable queues and exchanges vanish with the stop; servers must declare
them again.
"""

import logging
import threading
import time

import pytest
from conftest import RabbitAdmin, RPCHarness, new_conf, unique
from private_rabbit import PrivateCluster, rabbit_available
from rpc_endpoints import Recorder

from svcframe import messaging
from svcframe.testing import wait_until

pytestmark = pytest.mark.slow

CALL_TIMEOUT = 3
OUTAGE = 3
CASTS_DURING_OUTAGE = 10
RECOVERY_TIME = 15
# Reconnect attempts 1 s, then every 2 s: recovery is quick once the broker is back.
RECONNECT = {"rabbit_retry_interval": 1, "rabbit_retry_backoff": 1, "rabbit_interval_max": 2}
# Node 10, port 5690: 1-9 are the chaos suite's, whose node may run at the same time.
PRIVATE_NODE = 10


class CallLoop(threading.Thread):
    """Calls 'echo' back to back and records (start, duration, result or exception) of each."""

    def __init__(self, client):
        super().__init__(name="call-loop", daemon=True)
        self.client = client.prepare(timeout=CALL_TIMEOUT)
        self.calls = []
        self.stopping = threading.Event()

    def run(self):
        n = 0
        while not self.stopping.is_set():
            start = time.monotonic()
            try:
                outcome = self.client.call({}, "echo", value=n)
            except Exception as exc:  # noqa: BLE001 - judged by the test
                outcome = exc
            self.calls.append((start, time.monotonic() - start, n, outcome))
            n += 1

    def successes_since(self, moment):
        return [c for c in self.calls if c[0] >= moment and not isinstance(c[3], Exception)]


class CastSender(threading.Thread):
    """Sends casts 'record' with values 0..count-1; remembers which raised."""

    def __init__(self, client, count):
        super().__init__(name="cast-sender", daemon=True)
        self.client = client
        self.count = count
        self.outcomes = {}

    def run(self):
        for value in range(self.count):
            try:
                self.client.cast({}, "record", value=value)
                self.outcomes[value] = None
            except Exception as exc:  # noqa: BLE001 - judged by the test
                self.outcomes[value] = exc


@pytest.fixture(scope="module")
def private_node():
    """A private RabbitMQ node for this module's tests (about 10 s to start)."""
    reason = rabbit_available()
    if reason:
        pytest.skip(f"private RabbitMQ nodes cannot run here: {reason}")
    with PrivateCluster(1, first=PRIVATE_NODE, suite="restart") as cluster:
        yield cluster.node(1)


@pytest.fixture
def node(private_node):
    """The private node, running (a test before may have failed with it down)."""
    if not private_node.running:
        private_node.start()
    return private_node


@pytest.fixture
def rpc(node, conf):
    """The suite's RPC harness, on the private node."""
    admin = RabbitAdmin(node.amqp_url)
    harness = RPCHarness(admin, conf, url=node.url)
    yield harness
    harness.close()
    admin.close()


@pytest.fixture
def private_broker(node):
    """``stop()`` stops the node's application; it is started again however the test ends.

    Requested after ``rpc``, so that the application is back before the
    harness deletes what the test created.
    """

    class Broker:
        stopped = False

        def stop(self):
            self.stopped = True
            node.stop_app()

        def start(self):
            node.start_app()
            self.stopped = False

    broker = Broker()
    try:
        yield broker
    finally:
        if broker.stopped:
            broker.start()


@pytest.fixture(params=["transient queues", "quorum queues"])
def queue_options(request, rpc):
    """Rabbit options for both transports; quorum mode gets an exchange of its own."""
    if request.param == "transient queues":
        return {}
    return {"rabbit_quorum_queue": True, "rabbit_transient_quorum_queue": True}


def make_conf(rpc, queue_options):
    conf = new_conf(**RECONNECT, **queue_options)
    if queue_options:
        # Durable entities must not clash with the default non-durable exchange.
        conf.set_override("control_exchange", rpc.quorum_exchange)
    return conf


def dropped_cast_warnings(caplog, topic):
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING
        and "was dropped" in r.getMessage()
        and repr(topic) in r.getMessage()
    ]


def test_calls_and_casts_survive_a_broker_restart(
    rpc, topic, private_broker, queue_options, caplog
):
    caplog.set_level(logging.WARNING)
    rpc.quorum_exchange = unique("sfrestart")
    rpc.forget_exchanges(rpc.quorum_exchange)
    server_transport = rpc.transport(conf=make_conf(rpc, queue_options))
    client_transport = rpc.transport(conf=make_conf(rpc, queue_options))
    recorder = Recorder()
    rpc.server(server_transport, topic, [recorder])
    client = rpc.client(client_transport, topic)
    calls = CallLoop(client)
    calls.start()
    casts = CastSender(client, CASTS_DURING_OUTAGE)
    try:
        wait_until(lambda: len(calls.successes_since(0)) >= 10, 10, message="calls flowing")

        private_broker.stop()
        casts.start()
        time.sleep(OUTAGE)
        private_broker.start()
        restarted = time.monotonic()

        wait_until(
            lambda: calls.successes_since(restarted),
            RECOVERY_TIME,
            interval=0.1,
            message="a call answered after the restart",
        )
        casts.join(RECOVERY_TIME)
        assert not casts.is_alive(), "a cast sent during the outage never returned"
    finally:
        calls.stopping.set()
        calls.join(CALL_TIMEOUT + 2)
    assert not calls.is_alive(), "a call hung"

    # Calls in flight either succeeded or failed clearly, never past their timeout.
    for _, duration, n, outcome in calls.calls:
        if isinstance(outcome, Exception):
            assert isinstance(
                outcome,
                (
                    messaging.MessagingTimeout,
                    messaging.MessageDeliveryFailure,
                    messaging.TransportUnavailable,
                ),
            ), repr(outcome)
        else:
            assert outcome == n
        assert duration <= CALL_TIMEOUT + 1, f"call {n} took {duration:.1f} s: {outcome!r}"

    # Casts sent during the outage: raised to the caller, or delivered once
    # the server was back.  A transient queue is gone with the broker: a cast
    # that arrives before its server declared it again comes back, and the
    # publisher sends it again until the server is back.
    assert len(casts.outcomes) == CASTS_DURING_OUTAGE
    for exc in casts.outcomes.values():
        assert exc is None or isinstance(exc, messaging.MessagingException), repr(exc)
    sent = sorted(value for value, exc in casts.outcomes.items() if exc is None)
    assert dropped_cast_warnings(caplog, topic) == []
    recorder.wait_for_records(len(sent), timeout=RECOVERY_TIME)
    # Re-sent casts may arrive twice; the server drops the duplicate.
    assert len(recorder.received) == len(set(recorder.received))
    assert sorted(recorder.received) == sent
