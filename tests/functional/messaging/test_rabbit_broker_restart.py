"""The broker restarts while calls and casts flow: nothing hangs, nothing is silently lost.

Stops and starts the RabbitMQ application with rabbitmqctl (the broker
is always started again, even when the test fails).  Non-durable queues
and exchanges vanish with the stop; servers must declare them again.
"""

import fcntl
import logging
import threading
import time

import kombu
import pytest
from conftest import AMQP_URL, lock_broker, new_conf, rabbitmqctl, unique
from rpc_endpoints import Recorder

from svcframe import messaging
from svcframe.testing import wait_until

pytestmark = [pytest.mark.rabbit, pytest.mark.slow]

CALL_TIMEOUT = 3
OUTAGE = 3
CASTS_DURING_OUTAGE = 10
RECOVERY_TIME = 15
# Reconnect attempts 1 s, then every 2 s: recovery is quick once the broker is back.
RECONNECT = {"rabbit_retry_interval": 1, "rabbit_retry_backoff": 1, "rabbit_interval_max": 2}


def amqp_accepts_connections():
    try:
        with kombu.Connection(AMQP_URL, connect_timeout=2) as conn:
            conn.connect()
            return True
    except Exception:  # noqa: BLE001 - not up yet
        return False


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


@pytest.fixture
def restartable_broker():
    """Stop the RabbitMQ application with ``stop()``; it is started again however the test ends."""
    rabbitmqctl("status", timeout=30)
    # Wait for the tests of other processes of this suite to finish (best effort).
    lock = lock_broker(fcntl.LOCK_EX)

    class Broker:
        stopped = False

        def stop(self):
            self.stopped = True
            rabbitmqctl("stop_app", timeout=60)

        def start(self):
            rabbitmqctl("start_app", timeout=120)
            wait_until(amqp_accepts_connections, 60, interval=0.2, message="AMQP accepting")
            self.stopped = False

    broker = Broker()
    try:
        yield broker
    finally:
        try:
            if broker.stopped:
                broker.start()
        finally:
            if lock is not None:
                lock.close()


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
    rpc, topic, restartable_broker, queue_options, caplog
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

        restartable_broker.stop()
        casts.start()
        time.sleep(OUTAGE)
        restartable_broker.start()
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
