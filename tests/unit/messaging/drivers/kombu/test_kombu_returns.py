"""The policy for messages the broker returns: re-send, fail the call, or drop."""

import logging
import types

import kombu
import pytest

from svcframe.messaging import _wire as wire
from svcframe.messaging import exceptions
from svcframe.messaging.drivers.kombu import returns
from svcframe.messaging.drivers.kombu.returns import ReturnedMessages

RETRY_TIMEOUT = 60


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Driver:
    """What the policy reads of a driver."""

    safe_url = "rabbit://guest:***@broker:5672/"
    missing_consumer_retry_timeout = RETRY_TIMEOUT

    def __init__(self):
        self.waiting = set()

    def call_waited_for(self, msg_id):
        return msg_id in self.waiting

    def topic_exchange(self, name):
        return kombu.Exchange(name, type="topic")

    def fanout_exchange(self, topic):
        return kombu.Exchange(f"{topic}_fanout", type="fanout")


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(returns, "time", types.SimpleNamespace(monotonic=clock))
    return clock


@pytest.fixture
def driver():
    return Driver()


@pytest.fixture
def failed():
    return {}


@pytest.fixture
def policy(clock, driver, failed):
    wakes = []
    policy = ReturnedMessages(driver, failed.__setitem__, wake=lambda: wakes.append(1))
    policy.wakes = wakes
    return policy


def body(method="ping", msg_id=None, reply_q=None, unique_id="u1"):
    message = {"method": method, "args": {}, "_unique_id": unique_id}
    if msg_id is not None:
        message["_msg_id"] = msg_id
    if reply_q is not None:
        message["_reply_q"] = reply_q
    return wire.encode(wire.build_request(message, {}))


def reply_body(msg_id="m1"):
    return wire.encode(wire.build_reply(msg_id, "result", None, ending=True))


def test_a_reply_to_a_gone_queue_is_resent_with_doubling_delays_up_to_a_cap(policy, clock):
    delays = []
    for _ in range(8):
        policy.handle("", "reply_q1", reply_body(), "NO_ROUTE")
        (due,) = policy._resends[-1:]
        delays.append(due[0] - clock.now)
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert {o.kind for _, o in policy._resends} == {"reply"}
    assert {(o.exchange, o.routing_key, o.mandatory) for _, o in policy._resends} == {
        ("", "reply_q1", True)
    }
    assert len(policy.wakes) == 8


def test_a_reply_queue_is_given_up_after_its_retries_and_then_skipped_for_a_while(
    policy, clock, caplog
):
    for _ in range(returns.REPLY_RETRIES_PER_QUEUE):
        policy.handle("", "reply_q1", reply_body(), "NO_ROUTE")
    assert not policy.reply_queue_obsolete("reply_q1")
    with caplog.at_level(logging.WARNING, logger=returns.__name__):
        policy.handle("", "reply_q1", reply_body(), "NO_ROUTE")
    assert len(policy._resends) == returns.REPLY_RETRIES_PER_QUEUE
    assert "Gave up sending the reply to message m1" in caplog.text
    assert policy.reply_queue_obsolete("reply_q1")
    assert not policy.reply_queue_obsolete("reply_q2")
    clock.now += returns.OBSOLETE_REPLY_QUEUE_TTL + 1
    assert not policy.reply_queue_obsolete("reply_q1")


def test_a_reply_queue_gone_for_longer_than_the_retry_timeout_is_given_up(policy, clock):
    policy.handle("", "reply_q1", reply_body(), "NO_ROUTE")
    clock.now += RETRY_TIMEOUT
    policy.handle("", "reply_q1", reply_body(), "NO_ROUTE")
    assert len(policy._resends) == 1
    assert policy.reply_queue_obsolete("reply_q1")


def test_the_obsolete_reply_queue_cache_keeps_the_most_recent(policy, clock):
    for n in range(returns.OBSOLETE_REPLY_QUEUES + 50):
        policy.mark_reply_queue_obsolete(f"reply_{n}", clock.now)
    assert len(policy._obsolete_reply_queues) == returns.OBSOLETE_REPLY_QUEUES
    assert not policy.reply_queue_obsolete("reply_49")
    assert policy.reply_queue_obsolete("reply_50")


def test_a_returned_cast_is_dropped_with_a_warning_when_not_just_reconnected(policy, caplog):
    with caplog.at_level(logging.WARNING, logger=returns.__name__):
        policy.handle("nova", "compute", body("build"), "NO_ROUTE")
    assert not policy.pending
    assert "A cast of 'build' to 'compute' (exchange 'nova') was dropped" in caplog.text


def test_a_returned_call_fails_at_once_when_not_just_reconnected(policy, failed):
    policy.handle("nova", "compute", body(msg_id="m1", reply_q="reply_x"), "NO_ROUTE")
    assert not policy.pending
    error = failed["m1"]
    assert isinstance(error, exceptions.UnroutableCall)
    assert str(error) == (
        "No server is listening on 'compute' (exchange 'nova') at rabbit://guest:***@broker:5672/:"
        " the broker could not route the call (NO_ROUTE)"
    )


def test_replies_returned_just_after_a_reconnect_do_not_use_up_their_queue(policy, clock):
    # After a broker restart the publisher re-sends every unconfirmed reply at
    # once; they come back until the caller has declared its reply queue again.
    policy.reconnected_at = clock.now
    for _ in range(3 * returns.REPLY_RETRIES_PER_QUEUE):
        policy.handle("", "reply_q1", reply_body(), "NO_ROUTE")
    assert not policy.reply_queue_obsolete("reply_q1")
    assert len(policy._resends) == 3 * returns.REPLY_RETRIES_PER_QUEUE
    assert {due for due, _ in policy._resends} == {clock.now + returns.RESEND_DELAY}
    # Once the reconnect window is over, the queue's attempts count again.
    clock.now += policy.driver.missing_consumer_retry_timeout + 1
    policy.handle("", "reply_q1", reply_body(), "NO_ROUTE")
    assert policy.reply_queue_obsolete("reply_q1")


def test_a_cast_returned_just_after_a_reconnect_is_sent_again_on_its_exchange(policy, clock):
    policy.reconnected_at = clock.now - 1
    policy.handle("nova", "compute", body(), "NO_ROUTE", expiration=None)
    policy.handle("compute_fanout", "compute", body(unique_id="u2"), "NO_ROUTE")
    (due1, cast), (_, fanout) = policy._resends
    assert due1 == clock.now + returns.RESEND_DELAY
    assert (cast.exchange.name, cast.exchange.type, cast.kind) == ("nova", "topic", "cast")
    assert (fanout.exchange.name, fanout.exchange.type) == ("compute_fanout", "fanout")
    assert cast.mandatory and cast.expiration is None and cast.msg_id is None


@pytest.mark.parametrize(
    "expiration, seconds", [("1500", 1.5), ("0", 0.001), ("soon", None), (None, None)]
)
def test_a_call_returned_just_after_a_reconnect_keeps_its_expiration(
    policy, clock, driver, expiration, seconds
):
    driver.waiting.add("m1")
    policy.reconnected_at = clock.now
    policy.handle("nova", "compute", body(msg_id="m1", reply_q="r"), "NO_ROUTE", expiration)
    ((_, call),) = policy._resends
    assert (call.kind, call.msg_id, call.expiration) == ("call", "m1", seconds)


def test_a_call_whose_caller_gave_up_is_not_sent_again(policy, clock, failed):
    policy.reconnected_at = clock.now
    policy.handle("nova", "compute", body(msg_id="gone", reply_q="r"), "NO_ROUTE")
    assert not policy.pending and not failed


def test_returns_after_the_reconnect_window_end_the_resending(policy, clock, driver, failed):
    driver.waiting.add("m1")
    policy.reconnected_at = clock.now
    policy.handle("nova", "compute", body(msg_id="m1", reply_q="r"), "NO_ROUTE")
    policy.handle("nova", "compute", body(), "NO_ROUTE")
    assert len(policy.take_due(clock.now + 1)) == 2
    clock.now += RETRY_TIMEOUT
    policy.handle("nova", "compute", body(msg_id="m1", reply_q="r"), "NO_ROUTE")
    policy.handle("nova", "compute", body(), "NO_ROUTE")
    assert not policy.pending
    assert isinstance(failed["m1"], exceptions.UnroutableCall)


def test_the_messages_waiting_to_be_sent_again_are_bounded(policy, clock, monkeypatch, caplog):
    monkeypatch.setattr(returns, "MAX_PENDING_RESENDS", 3)
    policy.reconnected_at = clock.now
    with caplog.at_level(logging.WARNING, logger=returns.__name__):
        for n in range(5):
            policy.handle("nova", "compute", body(unique_id=f"u{n}"), "NO_ROUTE")
    assert len(policy._resends) == 3
    assert "too many messages to re-send" in caplog.text


def test_take_due_hands_over_what_is_due_and_keeps_the_rest(policy, clock):
    for attempt in range(3):
        policy.handle("", "reply_q1", reply_body(f"m{attempt}"), "NO_ROUTE")
    # Due after 0.25, 0.5 and 1 s.
    assert [o.msg_id for o in policy.take_due(clock.now + 0.6)] == ["m0", "m1"]
    assert policy.pending
    assert [o.msg_id for o in policy.take_due(clock.now + 1)] == ["m2"]
    assert not policy.pending


def test_first_failure_times_are_forgotten_once_nothing_is_waiting(policy, clock):
    policy.handle("", "reply_q1", reply_body(), "NO_ROUTE")
    policy.reconnected_at = clock.now
    policy.handle("nova", "compute", body(), "NO_ROUTE")
    policy.take_due(clock.now + 1)
    assert policy._reply_queue_attempts and policy._first_returned
    policy.take_due(clock.now + 2 * RETRY_TIMEOUT + 1)
    assert not policy._reply_queue_attempts and not policy._first_returned
