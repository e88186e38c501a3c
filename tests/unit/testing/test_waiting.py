"""wait_until: poll for an effect, fail with what was awaited and what was seen."""

import itertools
import threading
import time

import pytest

from svcframe.testing import WaitTimeout, wait_until


def test_returns_the_first_true_value_without_sleeping(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: pytest.fail("slept"))
    assert wait_until(lambda: {"ready": 1}, timeout=5) == {"ready": 1}


def test_polls_until_the_predicate_is_true():
    values = iter([0, None, [], "", "done"])
    assert wait_until(lambda: next(values), timeout=5, interval=0.001) == "done"


def test_sees_what_another_thread_does():
    event = threading.Event()
    threading.Timer(0.05, event.set).start()
    assert wait_until(event.is_set, timeout=5) is True


def test_a_timeout_names_what_was_awaited_and_the_last_value():
    counter = itertools.count()
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        wait_until(lambda: next(counter) < 0, timeout=0.1, interval=0.01, message="3 replies")
    assert time.monotonic() - started >= 0.1
    assert str(info.value) == "timed out after 0.1 s waiting for 3 replies (last value False)"
    assert info.value.last is False and info.value.timeout == 0.1


def test_a_timeout_is_an_assertion_error_not_an_os_error():
    with pytest.raises(AssertionError):
        wait_until(lambda: None, timeout=0)
    assert not issubclass(WaitTimeout, OSError)


def test_the_predicate_is_called_once_more_at_the_deadline():
    calls = []

    def predicate():
        calls.append(time.monotonic())
        return None

    with pytest.raises(WaitTimeout):
        wait_until(predicate, timeout=0.05, interval=10)
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.05


def test_a_callable_message_describes_the_state_at_the_timeout():
    seen = []

    def predicate():
        seen.append(len(seen))
        return False

    with pytest.raises(WaitTimeout, match=r"waiting for a reply; got \[0, 1(, \d+)*\]"):
        wait_until(predicate, timeout=0.02, interval=0.005, message=lambda: f"a reply; got {seen}")


def test_without_a_message_the_predicate_is_named_by_its_source_line():
    def queue_is_empty():
        return False

    with pytest.raises(WaitTimeout) as info:
        wait_until(queue_is_empty, timeout=0)
    text = str(info.value)
    assert "queue_is_empty at " in text and f"{__file__}:" in text


def test_a_long_last_value_is_shortened():
    class Pending:
        def __bool__(self):
            return False

        def __repr__(self):
            return "x" * 10_000

    with pytest.raises(WaitTimeout) as info:
        wait_until(Pending, timeout=0, message="m")
    text = str(info.value)
    assert len(text) < 600 and text.endswith("xxx...)")
    assert isinstance(info.value.last, Pending)


def test_ignored_exceptions_count_as_not_yet():
    attempts = iter([ConnectionRefusedError("refused"), ConnectionRefusedError("refused"), "up"])

    def connect():
        outcome = next(attempts)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert wait_until(connect, timeout=5, interval=0.001, ignore=OSError) == "up"


def test_the_last_ignored_exception_is_reported():
    def connect():
        raise ConnectionRefusedError("refused")

    with pytest.raises(WaitTimeout) as info:
        wait_until(connect, timeout=0.02, interval=0.005, message="the port", ignore=(OSError,))
    assert str(info.value).endswith("(last raised ConnectionRefusedError: refused)")
    assert isinstance(info.value.last, ConnectionRefusedError)


def test_other_exceptions_propagate_at_once():
    def broken():
        raise KeyError("missing")

    started = time.monotonic()
    with pytest.raises(KeyError):
        wait_until(broken, timeout=5, ignore=OSError)
    assert time.monotonic() - started < 1


def test_a_non_positive_interval_is_refused():
    with pytest.raises(ValueError, match="'interval' must be > 0, not: 0"):
        wait_until(lambda: True, interval=0)
