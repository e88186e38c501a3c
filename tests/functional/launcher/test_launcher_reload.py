"""SIGHUP: mutable options applied in place, others by a rolling restart."""

import signal
import time

import pytest
from launcher_harness import (
    Example,
    NotifySocket,
    alive,
)
from log_lines import assert_sequence, line_count

from svcframe.testing import wait_until

pytestmark = pytest.mark.timeout(60)

BOOT = [
    "Starting 4 workers",
    *[f"Started worker {n} of 4 (pid N)" for n in range(1, 5)],
    {f"Worker {n} of 4 (pid N) ready" for n in range(1, 5)},
    "All 4 workers ready",
]
GRACEFUL_END = [
    "Caught SIGTERM, stopping workers",
    {f"Worker {n} (pid N) exited with status 0" for n in range(1, 5)},
    "All workers stopped, exiting with status 0",
]


def _all_reset_to(example, color):
    return all(
        (example.state("reset", pid) or [None])[0] == color for pid in example.workers().values()
    )


def test_sighup_applies_mutable_options_in_every_worker(tmp_path):
    with Example(tmp_path) as example:
        example.wait_line("All 4 workers ready")
        workers = example.workers()
        example.configure(example={"color": "blue"})
        example.kill(signal.SIGHUP)
        example.wait_line("Reload done")
        assert _all_reset_to(example, "blue")
        # Twice in a row: both are applied or merged, never fatal.
        example.configure(example={"color": "green"})
        example.kill(signal.SIGHUP)
        example.kill(signal.SIGHUP)
        wait_until(
            lambda: _all_reset_to(example, "green"), 10, message="every worker reset to green"
        )
        assert example.workers() == workers
        example.kill(signal.SIGTERM)
        assert example.wait(timeout=10) == 0
    lines = example.master_lines()
    assert_sequence(
        lines,
        BOOT
        + [
            "Caught SIGHUP, reloading the configuration",
            "Mutable options changed, applying them in every worker: [example] color",
            {f"Worker {n} (pid N) applied the new configuration" for n in range(1, 5)},
            "Reload done, 4/4 workers ready",
        ],
        prefix=True,
    )
    # A worker's reset is seen (its state file) a moment before the master
    # reads that worker's report of it, which may come after the SIGTERM.
    ending = [line for line in lines if "applied the new configuration" not in line]
    assert_sequence(ending[-line_count(GRACEFUL_END) :], GRACEFUL_END)
    assert not any("ERROR" in level for _, _, level, _ in example.records())


def test_sighup_restarts_workers_one_at_a_time_for_other_options(tmp_path):
    notify = NotifySocket(str(tmp_path / "notify.sock"))
    try:
        with Example(tmp_path, notify=notify, example={"job_seconds": 0.3}) as example:
            example.wait_line("All 4 workers ready")
            old = example.workers()
            example.configure(example={"flavor": "chocolate"})
            example.kill(signal.SIGHUP)
            jobs = []
            deadline = time.monotonic() + 20
            while not any("Reload done" in line for line in example.lines()):
                assert time.monotonic() < deadline, "rolling restart did not finish"
                jobs += example.submit(1)
                notify.drain()
                time.sleep(0.05)
            wait_until(
                lambda: len(example.results()) == len(jobs), 10, message="every request answered"
            )
            new = example.workers()
            assert not set(old.values()) & set(new.values())
            assert not any(alive(pid) for pid in old.values())
            for pid in new.values():
                assert example.state("start", pid) == ["red", "chocolate"]
            assert set(example.results()) == set(jobs)
            example.kill(signal.SIGTERM)
            assert example.wait(timeout=10) == 0
        statuses = [
            line[len("STATUS=") :]
            for _, message in notify.drain()
            for line in message.splitlines()
            if line.startswith("STATUS=")
        ]
    finally:
        notify.close()
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
        example.master_lines(),
        BOOT
        + [
            "Caught SIGHUP, reloading the configuration",
            "Restarting workers one at a time: options that need a restart changed: "
            "[example] flavor",
            *rolling,
            "Reload done, 4/4 workers ready",
        ]
        + GRACEFUL_END,
    )
    # At least three workers were consuming at every moment of the reload.
    during = statuses[statuses.index("4/4 workers ready, reloading") :]
    assert all(s.startswith(("3/4", "4/4", "stopping")) for s in during), statuses
