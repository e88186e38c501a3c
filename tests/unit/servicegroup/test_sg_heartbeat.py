"""The heartbeat timer against a scripted in-memory driver."""

import logging
import threading
import time

from svcframe.servicegroup._exceptions import RegistryUnavailable
from svcframe.servicegroup._heartbeat import Membership


class ScriptedDriver:
    """Each report pops the next outcome: None succeeds, an exception is raised."""

    location = "scripted://registry"

    def __init__(self, outcomes, block=None):
        self.outcomes = list(outcomes)
        self.reports = 0
        self.done = threading.Event()
        self.block = block

    def report(self, host, binary, topic=None, version=None):
        if self.block is not None:
            self.block.wait()
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if not self.outcomes:
            self.done.set()
        self.reports += 1
        if outcome is not None:
            raise outcome


def run(driver, interval=0.01):
    membership = Membership(driver, "h", "b", None, None, report_interval=interval, initial_delay=0)
    membership.start()
    assert driver.done.wait(5)
    membership.stop()
    return membership


def test_lost_and_back_are_logged_once_each(caplog):
    caplog.set_level(logging.INFO)
    unavailable = RegistryUnavailable("scripted://registry", "connection refused")
    driver = ScriptedDriver([None, unavailable, unavailable, unavailable, None, None])
    run(driver)
    assert [(r.levelname, r.exc_info is None) for r in caplog.records] == [
        ("WARNING", True),
        ("INFO", True),
    ]
    assert "connection refused" in caplog.records[0].getMessage()


def test_no_exception_stops_the_timer(caplog):
    driver = ScriptedDriver([KeyError("bug"), RuntimeError("bug"), None, MemoryError(), None])
    membership = run(driver)
    assert driver.reports == 5
    assert not membership.running
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    # One traceback for the first unexpected failure, none while it keeps failing.
    assert len(errors) == 2 and errors[0].exc_info is not None


def test_stop_returns_promptly_while_a_report_is_blocked():
    block = threading.Event()
    driver = ScriptedDriver([None], block=block)
    membership = Membership(driver, "h", "b", None, None, report_interval=1, initial_delay=0)
    membership.start()
    started = time.monotonic()
    membership.stop(timeout=0.2)
    assert time.monotonic() - started < 0.5
    block.set()


def test_initial_delay_is_interruptible():
    driver = ScriptedDriver([None])
    membership = Membership(driver, "h", "b", None, None, report_interval=1, initial_delay=60)
    membership.start()
    started = time.monotonic()
    membership.stop()
    assert time.monotonic() - started < 0.5 and not membership.running
    assert driver.reports == 0
