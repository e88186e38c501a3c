"""Manager's periodic tasks and the runner that drives them."""

import threading
import time

import pytest
from oslo_config import cfg

from svcframe.manager import Manager, ManagerAccessPolicy, periodic_task
from svcframe.messaging import DefaultRPCAccessPolicy
from svcframe.periodic import PeriodicRunner


class TickingManager(Manager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ticks = []

    @periodic_task.periodic_task(spacing=1000)
    def tick(self, context):
        self.ticks.append(time.monotonic())

    @periodic_task.periodic_task(spacing=1000, run_immediately=True)
    def boom(self, context):
        raise RuntimeError("a failing task")

    def rpc_method(self, context):
        return "ok"


@pytest.fixture
def manager():
    conf = cfg.ConfigOpts()
    conf([])
    return TickingManager(host="h", conf=conf)


def test_spacing_counts_from_service_start_not_from_import(manager):
    manager.set_periodic_spacing("tick", 0.2)
    manager.restart_periodic_clock()
    manager.periodic_tasks({})
    assert manager.ticks == []  # not due yet: the clock started now
    time.sleep(0.25)
    manager.periodic_tasks({})
    assert len(manager.ticks) == 1


def test_a_failing_task_is_logged_and_the_others_still_run(manager, caplog):
    manager.set_periodic_spacing("tick", 0.01)
    manager.restart_periodic_clock()
    time.sleep(0.02)
    manager.periodic_tasks({})
    assert len(manager.ticks) == 1
    assert "a failing task" in caplog.text


def test_spacing_set_on_an_instance_leaves_the_class_alone(manager):
    manager.set_periodic_spacing("tick", 5)
    assert manager.periodic_spacing("tick") == 5
    assert TickingManager._periodic_spacing["tick"] == 1000
    with pytest.raises(ValueError, match="no periodic task 'nope'"):
        manager.set_periodic_spacing("nope", 1)


def test_hooks_plumbing_attributes_and_tasks_are_not_rpc_but_component_methods_are(manager):
    for policy in (ManagerAccessPolicy(), DefaultRPCAccessPolicy()):
        for name in (
            "init_host",
            "reset",
            "periodic_tasks",
            "set_periodic_spacing",
            "_private",
            "conf",
            "host",
            "tick",
        ):
            assert not policy.is_allowed(manager, name), name
        assert policy.is_allowed(manager, "rpc_method")


def test_the_runner_survives_exceptions_and_honours_interval_max():
    calls = []
    done = threading.Event()

    def func():
        calls.append(time.monotonic())
        if len(calls) == 3:
            done.set()
        if len(calls) == 1:
            raise RuntimeError("first run fails")
        return 1000  # capped by interval_max

    runner = PeriodicRunner(func, fuzzy_delay=0, interval_max=0.05).start()
    try:
        assert done.wait(5)
    finally:
        runner.stop()
    assert len(calls) >= 3
    assert calls[2] - calls[1] < 1


def test_the_initial_delay_is_random_within_the_fuzzy_delay():
    delays = {PeriodicRunner(lambda: None, 10, 60).initial_delay for _ in range(20)}
    assert all(0 <= d <= 10 for d in delays) and len(delays) > 1


def test_stop_interrupts_the_initial_delay():
    runner = PeriodicRunner(lambda: None, fuzzy_delay=0, interval_max=60)
    runner._initial_delay = 30
    runner.start()
    started = time.monotonic()
    runner.stop()
    assert time.monotonic() - started < 1
