"""The launcher as a process tree: start, crash, hang, boot failure, shutdown.

Each test runs example_service.py with real forks and real signals and
asserts the master's lifecycle log lines, pids hidden.
"""

import os
import re
import signal
import time

import pytest
from launcher_harness import Example, alive, cmdline
from log_lines import assert_sequence

from svcframe.testing import wait_until

pytestmark = pytest.mark.timeout(60)

STARTED = [f"Started worker {n} of 4 (pid N)" for n in range(1, 5)]
READY = {f"Worker {n} of 4 (pid N) ready" for n in range(1, 5)}
EXITED_0 = {f"Worker {n} (pid N) exited with status 0" for n in range(1, 5)}
BOOT = ["Starting 4 workers", *STARTED, READY, "All 4 workers ready"]
GRACEFUL_END = [
    "Caught SIGTERM, stopping workers",
    EXITED_0,
    "All workers stopped, exiting with status 0",
]


def _replace(example, number, signum):
    """Send ``signum`` to worker ``number``; wait until its successor is ready."""
    pid = example.workers()[number]
    os.kill(pid, signum)
    wait_until(lambda: example.workers()[number] != pid, 10, message=f"worker {number} respawned")
    example.wait_line(f"Worker {number} of 4 (pid {example.workers()[number]}) ready")
    return pid


def test_start_four_workers_then_stop(tmp_path):
    with Example(tmp_path) as example:
        example.wait_line("All 4 workers ready")
        title = cmdline(example.pid)
        assert re.fullmatch(r"svc-example: master \(4 workers\) \[config 0 [0-9a-f]{8}\]", title)
        digest = title[-9:-1]
        # Forks copy only the forking thread: the master must have no other.
        assert os.listdir(f"/proc/{example.pid}/task") == [str(example.pid)]
        for number, pid in example.workers().items():
            assert cmdline(pid) == f"svc-example: worker {number} of 4 [config 0 {digest}]"
        example.kill(signal.SIGTERM)
        assert example.wait(timeout=10) == 0
    assert_sequence(example.master_lines(), BOOT + GRACEFUL_END)


def test_killed_worker_is_respawned_with_backoff(tmp_path):
    with Example(tmp_path) as example:
        example.wait_line("All 4 workers ready")
        _replace(example, 2, signal.SIGKILL)
        _replace(example, 2, signal.SIGKILL)
        example.kill(signal.SIGTERM)
        assert example.wait(timeout=10) == 0
    respawn = [
        "Worker 2 (pid N) killed by SIGKILL (perhaps out of memory?)",
        "Respawning worker 2 in %s s",
        "Started worker 2 of 4 (pid N)",
        "Worker 2 of 4 (pid N) ready",
    ]
    assert_sequence(
        example.master_lines(),
        BOOT
        + [line.replace("%s", "0.2") for line in respawn]
        + [line.replace("%s", "0.4") for line in respawn]
        + GRACEFUL_END,
    )


def test_hung_worker_is_killed_and_replaced(tmp_path):
    with Example(tmp_path) as example:
        example.wait_line("All 4 workers ready")
        stopped_at = time.monotonic()
        _replace(example, 3, signal.SIGSTOP)
        # worker_hang_timeout is 2 s, heartbeats every 0.2 s.
        assert 2 <= time.monotonic() - stopped_at < 5
        example.kill(signal.SIGTERM)
        assert example.wait(timeout=10) == 0
    assert_sequence(
        example.master_lines(),
        BOOT
        + [
            "Worker 3 (pid N) hung: no heartbeat for X s, killing it",
            "Worker 3 (pid N) killed by SIGKILL",
            "Respawning worker 3 in 0.2 s",
            "Started worker 3 of 4 (pid N)",
            "Worker 3 of 4 (pid N) ready",
        ]
        + GRACEFUL_END,
    )


def test_sigterm_lets_in_flight_requests_finish(tmp_path):
    with Example(tmp_path, example={"job_seconds": 2, "max_inflight": 10}) as example:
        example.wait_line("All 4 workers ready")
        jobs = example.submit(20)
        wait_until(lambda: len(example.claimed()) == 20, 5, message="20 jobs claimed")
        assert example.results() == {}
        started = time.monotonic()
        example.kill(signal.SIGTERM)
        assert example.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    results = example.results()
    assert sorted(results) == sorted(jobs)
    assert set(results.values()) <= set(example.workers().values())
    assert_sequence(example.master_lines(), BOOT + GRACEFUL_END)


def test_graceful_shutdown_timeout_kills_the_rest(tmp_path):
    with Example(
        tmp_path,
        DEFAULT={"graceful_shutdown_timeout": 1},
        example={"job_seconds": 30, "max_inflight": 1},
    ) as example:
        example.wait_line("All 4 workers ready")
        example.submit(4)
        wait_until(lambda: len(example.claimed()) == 4, 5, message="4 jobs claimed")
        started = time.monotonic()
        example.kill(signal.SIGTERM)
        assert example.wait(timeout=10) == 1
        assert 1 <= time.monotonic() - started < 4
    lines = example.master_lines()
    assert_sequence(
        lines,
        BOOT
        + [
            "Caught SIGTERM, stopping workers",
            "Graceful shutdown timeout (1 s) exceeded, killing worker 1 (pid N), "
            "worker 2 (pid N), worker 3 (pid N), worker 4 (pid N)",
            {f"Worker {n} (pid N) killed by SIGKILL" for n in range(1, 5)},
            "All workers stopped, exiting with status 1",
        ],
    )


def test_sigterm_during_respawn_backoff_exits_at_once(tmp_path):
    backoff = {"respawn_backoff_initial": 20, "respawn_backoff_max": 20}
    with Example(tmp_path, launcher=backoff) as example:
        example.wait_line("All 4 workers ready")
        os.kill(example.workers()[4], signal.SIGKILL)
        example.wait_line("Respawning worker 4 in 20.0 s")
        started = time.monotonic()
        example.kill(signal.SIGTERM)
        assert example.wait(timeout=10) == 0
        # Far below the 20 s backoff.
        assert time.monotonic() - started < 5
    assert_sequence(
        example.master_lines(),
        BOOT
        + [
            "Worker 4 (pid N) killed by SIGKILL (perhaps out of memory?)",
            "Respawning worker 4 in 20.0 s",
            "Caught SIGTERM, stopping workers",
            {f"Worker {n} (pid N) exited with status 0" for n in range(1, 4)},
            "All workers stopped, exiting with status 0",
        ],
    )


def test_boot_failure_stops_the_launcher(tmp_path):
    with Example(tmp_path, scenario="bootfail") as example:
        started = time.monotonic()
        assert example.wait(timeout=10) == 3
        assert time.monotonic() - started < 5
    lines = example.master_lines()
    cause = "ConnectionRefusedError: broker refused the connection"
    # The same cause from several workers is said once; the verdict counts them.
    failures = [line for line in lines if line.startswith("Worker") and "failed to boot" in line]
    assert len(failures) == 1
    assert failures[0].endswith(f"failed to boot: {cause}")
    assert (
        f"3 workers in a row failed to boot, the last one with: {cause}. Stopping all "
        "workers rather than respawning them again: fix the cause and start the service again."
    ) in lines
    assert lines[-1] == "All workers stopped, exiting with status 3"
    # No respawn loop: the four first forks, at most a respawn or two.
    assert sum(line.startswith("Started worker") for line in lines) <= 6


def test_workers_exit_when_the_master_is_killed(tmp_path):
    with Example(tmp_path) as example:
        example.wait_line("All 4 workers ready")
        workers = list(example.workers().values())
        example.kill(signal.SIGKILL)
        example.wait(timeout=5)
        wait_until(lambda: not any(alive(pid) for pid in workers), 5, message="workers gone")
    assert sum("is gone, stopping" in line for line in example.lines()) == 4


def test_single_process_resets_on_sighup_and_drains_on_sigterm(tmp_path):
    with Example(tmp_path, scenario="single", example={"job_seconds": 1.5}) as example:
        example.wait_line("Service ready")
        assert re.fullmatch(r"svc-example \[config 0 [0-9a-f]{8}\]", cmdline(example.pid))
        jobs = example.submit(5)
        wait_until(lambda: len(example.claimed()) == 5, 5, message="5 jobs claimed")
        example.configure(example={"color": "blue"})
        example.kill(signal.SIGHUP)
        example.wait_line("Reload done")
        assert example.state("reset", example.pid) == ["blue", "vanilla"]
        example.kill(signal.SIGTERM)
        assert example.wait(timeout=10) == 0
    assert set(example.results()) == set(jobs)
    assert set(example.results().values()) == {example.pid}
    assert example.master_lines("main") == [
        "Service ready",
        "Caught SIGHUP, applying the new configuration",
        "Reload done",
        "Caught SIGTERM, stopping the service",
        "Service stopped, exiting with status 0",
    ]
