"""SIGHUP on svc-launch with 4 workers while calls flow: in place, or a rolling restart."""

import re
import signal
import time

import pytest
from log_lines import assert_sequence
from runtime_harness import Load, alive

from svcframe.testing import wait_until

pytestmark = [pytest.mark.rabbit, pytest.mark.timeout(90)]

STARTED = [f"Started worker {n} of 4 (pid N)" for n in range(1, 5)]
READY = {f"Worker {n} of 4 (pid N) ready" for n in range(1, 5)}
BOOT = ["Starting 4 workers", *STARTED, READY, "All 4 workers ready"]
GRACEFUL_END = [
    "Caught SIGTERM, stopping workers",
    {f"Worker {n} (pid N) exited with status 0" for n in range(1, 5)},
    "All workers stopped, exiting with status 0",
]


def answered_by(outcomes, **expected):
    """Pids of the successful calls whose answer has the ``expected`` items."""
    return {
        o.result["pid"]
        for o in outcomes
        if o.error is None and all(o.result[k] == v for k, v in expected.items())
    }


def test_mutable_option_is_applied_in_every_worker_without_a_failed_call(launch):
    service = launch(conductor={"stale_task_after": 300})
    workers = service.wait_ready()
    pids = set(workers.values())

    with service.client() as client:
        with Load(lambda: client.call("describe", timeout=5)) as load:
            load.wait_successes(50, timeout=10)
            assert answered_by(load.snapshot()) == pids
            service.configure(conductor={"stale_task_after": 42})
            service.kill(signal.SIGHUP)
            wait_until(
                lambda: answered_by(load.snapshot(), stale_task_after=42) == pids,
                10,
                message=lambda: (
                    f"every worker on 42: {answered_by(load.snapshot(), stale_task_after=42)}"
                ),
            )
            service.wait_line("Reload done")
            reloaded_at = time.monotonic()
            load.wait_successes(50, timeout=10, after=reloaded_at)

    assert load.failures() == []
    assert service.workers() == workers
    outcomes = load.snapshot()
    # Once a worker answered with the new value, it never answers with the old one.
    for pid in pids:
        first_new = min(
            o.finished
            for o in outcomes
            if o.result["pid"] == pid and o.result["stale_task_after"] == 42
        )
        stale = [
            o
            for o in outcomes
            if o.result["pid"] == pid
            and o.started > first_new
            and o.result["stale_task_after"] != 42
        ]
        assert stale == []
    assert {o.result["stale_task_after"] for o in outcomes if o.started > reloaded_at} == {42}

    service.kill(signal.SIGTERM)
    assert service.wait(timeout=15) == 0
    assert_sequence(
        service.launcher_lines(),
        BOOT
        + [
            "Caught SIGHUP, reloading the configuration",
            "Mutable options changed, applying them in every worker: [conductor] stale_task_after",
            {f"Worker {n} (pid N) applied the new configuration" for n in range(1, 5)},
            "Reload done, 4/4 workers ready",
        ]
        + GRACEFUL_END,
    )


def test_immutable_option_restarts_the_workers_one_at_a_time_without_a_failed_call(launch):
    service = launch(DEFAULT={"executor_thread_pool_size": 64})
    workers = service.wait_ready()
    old_pids = set(workers.values())

    with service.client() as client:
        with Load(lambda: client.call("describe", timeout=5)) as load:
            load.wait_successes(50, timeout=10)
            service.configure(DEFAULT={"executor_thread_pool_size": 16})
            service.kill(signal.SIGHUP)
            service.wait_line("Reload done", timeout=30)
            reloaded_at = time.monotonic()
            new_workers = service.workers()
            new_pids = set(new_workers.values())
            wait_until(
                lambda: (
                    answered_by([o for o in load.snapshot() if o.started > reloaded_at]) == new_pids
                ),
                10,
                message="every new worker answering",
            )

    assert load.failures() == []
    assert sorted(new_workers) == [1, 2, 3, 4]
    assert new_pids.isdisjoint(old_pids)
    assert not any(alive(pid) for pid in old_pids)
    assert answered_by(o for o in load.snapshot() if o.started > reloaded_at) == new_pids

    service.kill(signal.SIGTERM)
    assert service.wait(timeout=15) == 0
    rolling = []
    for n in range(1, 5):
        rolling += [
            f"Replacing worker {n} of 4 (pid N)",
            f"Started worker {n} of 4 (pid N)",
            f"Worker {n} of 4 (pid N) ready",
            f"Stopping worker {n} (pid N), replaced by pid N",
            f"Worker {n} (pid N) exited with status 0",
        ]
    assert_sequence(
        service.launcher_lines(),
        BOOT
        + [
            "Caught SIGHUP, reloading the configuration",
            "Restarting workers one at a time: options that need a restart changed: "
            "[DEFAULT] executor_thread_pool_size",
            *rolling,
            "Reload done, 4/4 workers ready",
        ]
        + GRACEFUL_END,
    )


def test_invalid_values_are_rejected_and_the_workers_keep_serving(launch):
    service = launch(conductor={"stale_task_after": 300})
    workers = service.wait_ready()
    pids = set(workers.values())

    with service.client() as client:
        with Load(lambda: client.call("describe", timeout=5)) as load:
            load.wait_successes(50, timeout=10)
            # Out of range, for a mutable option and for one that needs a restart.
            service.configure(
                oslo_messaging_rabbit={"rabbit_interval_max": 0}, conductor={"stale_task_after": 0}
            )
            service.kill(signal.SIGHUP)
            service.wait_line("Reload done")
            rejected_at = time.monotonic()
            load.wait_successes(50, timeout=10, after=rejected_at)
            assert answered_by(load.snapshot(), stale_task_after=300) == pids

            service.configure(
                oslo_messaging_rabbit={"rabbit_interval_max": 30}, conductor={"stale_task_after": 7}
            )
            service.kill(signal.SIGHUP)
            wait_until(
                lambda: answered_by(load.snapshot(), stale_task_after=7) == pids,
                10,
                message=lambda: (
                    f"every worker on 7; last calls: {load.snapshot()[-8:]}\n{service.stderr()}"
                ),
            )
            # Workers answer with the new value a moment before the master
            # reads their reports; the SIGTERM must not overtake those.
            service.wait_line("Reload done", count=2)

    assert load.failures() == []
    assert service.workers() == workers
    assert {o.result["stale_task_after"] for o in load.snapshot()} == {300, 7}

    service.kill(signal.SIGTERM)
    assert service.wait(timeout=15) == 0
    lines = service.launcher_lines()
    # One line says the reload failed, what kept it from applying, and what stays.
    (failed,) = [line for line in lines if line.startswith("Reload failed, ")]
    assert re.fullmatch(r"Reload failed, keeping configuration 0 \([0-9a-f]{8}\): .*", failed)
    reasons = failed.split(": ", 1)[1].split("; ")
    assert sorted(reasons) == [
        "invalid value of [conductor] stale_task_after: Should be greater than or equal to 1",
        "invalid value of [oslo_messaging_rabbit] rabbit_interval_max: "
        "Should be greater than or equal to 1",
    ]
    assert_sequence(
        [line for line in lines if not line.startswith("Reload failed, ")],
        BOOT
        + [
            "Caught SIGHUP, reloading the configuration",
            "Reload done, 4/4 workers ready",
            "Caught SIGHUP, reloading the configuration",
            "Mutable options changed, applying them in every worker: [conductor] stale_task_after",
            {f"Worker {n} (pid N) applied the new configuration" for n in range(1, 5)},
            "Reload done, 4/4 workers ready",
        ]
        + GRACEFUL_END,
    )


def test_one_worker_rejects_an_invalid_value_and_applies_a_valid_one(launch):
    service = launch(workers=1, conductor={"stale_task_after": 300})
    service.wait_line("Service ready", timeout=20)

    with service.client() as client:
        assert client.call("describe")["stale_task_after"] == 300
        service.configure(conductor={"stale_task_after": 0})
        service.kill(signal.SIGHUP)
        service.wait_line("Reload done")
        assert client.call("describe")["stale_task_after"] == 300

        service.configure(conductor={"stale_task_after": 9})
        service.kill(signal.SIGHUP)
        service.wait_line("Reload done", count=2)
        assert client.call("describe")["stale_task_after"] == 9

    service.kill(signal.SIGTERM)
    assert service.wait(timeout=15) == 0
    lines = [
        re.sub(r"\([0-9a-f]{8}\)", "(DIGEST)", line) for line in service.launcher_lines("main")
    ]
    assert lines == [
        "Service ready",
        "Caught SIGHUP, applying the new configuration",
        "Reload failed, keeping configuration 0 (DIGEST): "
        "invalid value of [conductor] stale_task_after: Should be greater than or equal to 1",
        "Reload done",
        "Caught SIGHUP, applying the new configuration",
        "Reload done",
        "Caught SIGTERM, stopping the service",
        "Service stopped, exiting with status 0",
    ]
