"""Warnings about bad messages: rate-limited per kind with a count, values cut short."""

import logging

import pytest

from svcframe.messaging._ratelimit import WIRE_VALUE_LIMIT, RateLimitedLog, reset_all, shorten

LOGGER = "svcframe.tests.ratelimit"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def log(clock):
    return RateLimitedLog(logging.getLogger(LOGGER), interval=60, max_kinds=3, clock=clock)


@pytest.fixture
def lines(caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return lambda: [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_first_warning_of_a_kind_is_logged_at_warning(log, lines, caplog):
    assert log.warning("bad", "Rejected %s", "x") is True

    assert lines() == ["Rejected x"]
    assert caplog.records[0].levelno == logging.WARNING


def test_repeats_within_the_interval_are_counted_not_logged(log, clock, lines):
    log.warning("bad", "Rejected %s", "first")
    for i in range(4812):
        clock.now += 0.01
        assert log.warning("bad", "Rejected %s", i) is False

    assert lines() == ["Rejected first"]
    assert log.suppressed("bad") == 4812


def test_next_warning_after_the_interval_carries_the_count(log, clock, lines):
    log.warning("bad", "Rejected %s", "first")
    for _ in range(4812):
        log.warning("bad", "Rejected %s", "again")
    clock.now += 60

    assert log.warning("bad", "Rejected %s", "later") is True

    assert lines() == [
        "Rejected first",
        "Rejected later (and 4,812 more like it in the last 60 s)",
    ]
    assert log.suppressed("bad") == 0


def test_no_count_when_nothing_was_suppressed(log, clock, lines):
    log.warning("bad", "Rejected %s", 1)
    clock.now += 61
    log.warning("bad", "Rejected %s", 2)

    assert lines() == ["Rejected 1", "Rejected 2"]


def test_kinds_are_limited_separately(log, lines):
    log.warning("no such method", "Rejected %s", "a")
    log.warning("not JSON", "Dropped %s", "b")
    log.warning("no such method", "Rejected %s", "c")

    assert lines() == ["Rejected a", "Dropped b"]


def test_the_table_of_kinds_is_bounded(log, lines):
    for kind in range(10):
        log.warning(kind, "kind %s", kind)
    # The oldest kinds were forgotten: they are logged again.
    log.warning(0, "kind %s", 0)
    log.warning(9, "kind %s", 9)

    assert lines() == [f"kind {k}" for k in range(10)] + ["kind 0"]


def test_a_percent_sign_in_a_value_is_not_a_format(log, clock, lines):
    log.warning("bad", "Rejected %s", "100%s")
    log.warning("bad", "Rejected %s", "x")
    clock.now += 60
    log.warning("bad", "Rejected %s", "50%d")

    assert lines() == ["Rejected 100%s", "Rejected 50%d (and 1 more like it in the last 60 s)"]


def test_shorten_keeps_short_text_as_is():
    assert shorten("echo") == "echo"
    assert shorten(42) == "42"


def test_shorten_cuts_long_text_and_says_how_long_it_was():
    text = shorten("m" * 5 * 1024 * 1024)

    assert text == "m" * WIRE_VALUE_LIMIT + "... (5,242,880 characters)"


def test_shorten_keeps_text_on_one_line():
    assert shorten("a\nb\r\nc") == "a\\nb\\r\\nc"


def test_shorten_shows_bytes_by_repr():
    assert shorten(b"\x00abc") == "b'\\x00abc'"
    assert shorten(b"x" * 1000, limit=4) == "b'xxxx'... (1,000 bytes)"


def test_shorten_survives_an_object_that_cannot_be_printed():
    class Hostile:
        def __str__(self):
            raise RuntimeError("no")

    assert shorten(Hostile()) == "<unprintable Hostile: RuntimeError>"


def test_reset_all_forgets_every_kind(log, lines):
    log.warning("bad", "Rejected %s", 1)
    log.warning("bad", "Rejected %s", 2)

    reset_all()
    log.warning("bad", "Rejected %s", 3)

    assert lines() == ["Rejected 1", "Rejected 3"]


def test_lines_at_another_level_are_limited_the_same_way(log, clock, caplog, lines):
    log.log(logging.INFO, "duplicate", "Dropped %s", 1)
    log.log(logging.INFO, "duplicate", "Dropped %s", 2)
    clock.now += 60
    log.log(logging.INFO, "duplicate", "Dropped %s", 3)

    assert lines() == ["Dropped 1", "Dropped 3 (and 1 more like it in the last 60 s)"]
    assert {r.levelno for r in caplog.records} == {logging.INFO}


def test_an_interval_of_zero_logs_every_line(log, lines):
    log.interval = 0
    for i in range(3):
        log.warning("bad", "Rejected %s", i)

    assert lines() == ["Rejected 0", "Rejected 1", "Rejected 2"]
