"""How a server's prefetch is split among its topic, topic.server and fanout consumers."""

import types

import pytest

from svcframe.messaging.drivers.kombu.listener import _consumer_shares, effective_prefetch


@pytest.mark.parametrize(
    "prefetch, shares",
    [
        (3, (1, 1, 1)),
        (8, (4, 3, 1)),
        (16, (7, 7, 2)),
        (17, (8, 7, 2)),
        (128, (56, 56, 16)),
    ],
)
def test_the_shared_and_own_queues_split_most_of_it_and_fanout_gets_an_eighth(prefetch, shares):
    assert _consumer_shares(prefetch) == shares


def test_the_shares_never_give_the_server_queue_more_than_the_shared_one():
    for prefetch in range(3, 300):
        topic, server, fanout = _consumer_shares(prefetch)
        assert topic - server in (0, 1)
        assert fanout == max(1, prefetch // 8)


def _driver(prefetch_count, threads):
    conf = types.SimpleNamespace(executor_thread_pool_size=threads)
    return types.SimpleNamespace(prefetch_count=prefetch_count, conf=conf)


@pytest.mark.parametrize(
    "prefetch_count, threads, expected", [(0, 64, 128), (None, 4, 8), (-1, 10, 20), (7, 64, 7)]
)
def test_the_prefetch_is_the_option_or_twice_the_executor_threads(
    prefetch_count, threads, expected
):
    assert effective_prefetch(_driver(prefetch_count, threads)) == expected
