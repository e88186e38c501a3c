"""ReconnectBackoff: the delays between attempts to reach the broker grow linearly."""

import types

import pytest

from svcframe.messaging.drivers.kombu import connection
from svcframe.messaging.drivers.kombu.connection import ReconnectBackoff, reconnect_backoff


def test_the_delay_grows_by_its_step_up_to_the_maximum():
    backoff = ReconnectBackoff(1.0, 2.0, 6.0)
    assert [backoff.next() for _ in range(5)] == [1.0, 3.0, 5.0, 6.0, 6.0]


def test_reset_starts_again_from_the_first_delay():
    backoff = ReconnectBackoff(0.5, 0.5, 10.0)
    backoff.next(), backoff.next()
    backoff.reset()
    assert backoff.next() == 0.5


def test_a_negative_setting_never_gives_a_negative_delay():
    backoff = ReconnectBackoff(-1.0, 0.0, 5.0)
    assert backoff.next() == 0.0


def test_the_splay_adds_up_to_its_value(monkeypatch):
    draws = []

    def uniform(low, high):
        draws.append((low, high))
        return high

    monkeypatch.setattr(connection.random, "uniform", uniform)
    backoff = ReconnectBackoff(1.0, 1.0, 2.0, splay=0.5)
    assert [backoff.next() for _ in range(3)] == [1.5, 2.5, 2.5]
    assert draws == [(0, 0.5)] * 3


@pytest.mark.parametrize(
    "opts, splay", [(None, 0.0), (types.SimpleNamespace(kombu_reconnect_splay=0.3), 0.3)]
)
def test_after_a_lost_connection_the_delays_are_short_and_keep_the_splay(opts, splay):
    backoff = reconnect_backoff(types.SimpleNamespace(opts=opts))
    assert backoff.splay == splay
    backoff.splay = 0.0
    delays = [backoff.next() for _ in range(6)]
    assert delays == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
