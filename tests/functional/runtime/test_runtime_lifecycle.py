"""svc-launch with 4 workers on RabbitMQ: start, crash, hang, drain, backoff, orphaned workers.

Each test runs the real console script, sends real signals and makes real
RPC calls from the test process, then asserts the master's lifecycle log
lines (pids hidden) and the figures.
"""

import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from log_lines import assert_sequence
from runtime_harness import Load, alive

from svcframe.messaging import MessagingTimeout
from svcframe.testing import wait_until

pytestmark = [pytest.mark.rabbit, pytest.mark.timeout(90)]

STARTED = [f"Started worker {n} of 4 (pid N)" for n in range(1, 5)]
READY = {f"Worker {n} of 4 (pid N) ready" for n in range(1, 5)}
BOOT = ["Starting 4 workers", *STARTED, READY, "All 4 workers ready"]
EXITED_0 = {f"Worker {n} (pid N) exited with status 0" for n in range(1, 5)}
GRACEFUL_END = [
    "Caught SIGTERM, stopping workers",
    EXITED_0,
    "All workers stopped, exiting with status 0",
]
WORKER_TAGS = {f"worker-{n}" for n in range(1, 5)}


def respawned(number, how):
    return [
        f"Worker {number} (pid N) {how}",
        f"Respawning worker {number} in 0.2 s",
        f"Started worker {number} of 4 (pid N)",
        f"Worker {number} of 4 (pid N) ready",
    ]


def stop_gracefully(service, timeout=15):
    service.kill(signal.SIGTERM)
    assert service.wait(timeout=timeout) == 0, service.stderr()


def wait_replaced(service, number, old_pid, timeout=10):
    """The pid of the worker that replaced ``old_pid``, once it is ready."""
    new_pid = wait_until(
        lambda: service.workers()[number] != old_pid and service.workers()[number],
        timeout,
        message=f"worker {number} respawned",
    )
    service.wait_line(f"Worker {number} of 4 (pid {new_pid}) ready", timeout)
    return new_pid


def test_four_workers_get_ready_and_share_the_calls(launch):
    service = launch()
    workers = service.wait_ready()
    # A few seconds, even on a loaded 2-core machine.
    assert time.monotonic() - service.started_at < 10
    assert sorted(workers) == [1, 2, 3, 4]

    with service.client() as client, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.call("describe"), range(200)))

    assert len(answers) == 200
    assert {answer["host"] for answer in answers} == {service.host}
    assert {answer["pid"] for answer in answers} == set(workers.values())
    by_worker = Counter(answer["worker"] for answer in answers)
    assert set(by_worker) == WORKER_TAGS
    # Round robin over the workers' consumers: nobody is starved.
    assert min(by_worker.values()) >= 20, by_worker
    for answer in answers:
        assert workers[int(answer["worker"].split("-")[1])] == answer["pid"]

    stop_gracefully(service)
    assert_sequence(service.launcher_lines(), BOOT + GRACEFUL_END)


def test_killed_worker_is_respawned_while_calls_flow(launch):
    service = launch()
    workers = service.wait_ready()
    victim = workers[2]

    with service.client() as client:
        with Load(lambda: client.call("describe", timeout=3)) as load:
            load.wait_successes(50, timeout=10)
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            new_pid = wait_replaced(service, 2, victim, timeout=15)
            ready_at = time.monotonic()
            # The new worker takes its share, and the others go on.
            wait_until(
                lambda: any(o.result["pid"] == new_pid for o in load.successes()),
                10,
                message="a call answered by the respawned worker",
            )
            load.wait_successes(100, timeout=15, after=ready_at)

    failures = load.failures()
    # Only calls the dead worker had taken are lost: at most one per caller,
    # all sent before the kill was noticed, and all time out.
    assert len(failures) <= 8, failures
    assert all(isinstance(o.error, MessagingTimeout) for o in failures), failures
    assert all(o.started < killed_at + 0.5 for o in failures), failures
    answered_by = {o.result["pid"] for o in load.successes()}
    assert answered_by == set(workers.values()) | {new_pid}
    assert all(o.result["pid"] != victim for o in load.successes() if o.started > killed_at + 0.5)

    stop_gracefully(service)
    assert_sequence(
        service.launcher_lines(),
        BOOT + respawned(2, "killed by SIGKILL (perhaps out of memory?)") + GRACEFUL_END,
    )


def test_stopped_worker_is_found_hung_and_replaced(launch):
    service = launch()
    workers = service.wait_ready()
    victim = workers[3]

    with service.client() as client:
        # Long enough for a request the stopped worker held unacknowledged
        # to be redelivered once it is killed.
        with Load(lambda: client.call("describe", timeout=6)) as load:
            load.wait_successes(50, timeout=10)
            stopped_at = time.monotonic()
            os.kill(victim, signal.SIGSTOP)
            service.wait_line(f"Worker 3 (pid {victim}) hung", timeout=6)
            detected_after = time.monotonic() - stopped_at
            new_pid = wait_replaced(service, 3, victim, timeout=15)
            ready_at = time.monotonic()
            load.wait_successes(100, timeout=15, after=ready_at)
            wait_until(
                lambda: any(o.result["pid"] == new_pid for o in load.successes()),
                10,
                message="a call answered by the new worker",
            )

    # worker_hang_timeout is 2 s from the last heartbeat, which went out at
    # most worker_heartbeat_interval (0.2 s) before the SIGSTOP.
    assert 1.75 <= detected_after <= 4.0
    (hung,) = [line for line in service.lines() if "hung" in line]
    seconds = float(hung.split("no heartbeat for ")[1].split(" s")[0])
    assert 2.0 <= seconds <= 3.5, hung
    assert hung == f"Worker 3 (pid {victim}) hung: no heartbeat for {seconds:.1f} s, killing it"
    assert not alive(victim)

    failures = load.failures()
    assert len(failures) <= 8, failures
    assert all(isinstance(o.error, MessagingTimeout) for o in failures), failures
    assert all(o.started < stopped_at + detected_after for o in failures), failures

    stop_gracefully(service)
    assert_sequence(
        service.launcher_lines(),
        BOOT
        + [f"Worker 3 (pid N) hung: no heartbeat for {seconds:.1f} s, killing it"]
        + respawned(3, "killed by SIGKILL")
        + GRACEFUL_END,
    )


def test_sigterm_drains_the_calls_in_flight(launch):
    service = launch(binary="slowpoke")
    service.wait_ready()
    tokens = [f"call{n:02d}" for n in range(20)]

    with service.client() as client, ThreadPoolExecutor(len(tokens)) as pool:
        futures = [
            pool.submit(client.call, "sleep", timeout=20, seconds=2, token=token)
            for token in tokens
        ]
        wait_until(
            lambda: sorted(os.listdir(service.marker_dir)) == tokens,
            5,
            message=lambda: f"20 calls running, got {sorted(os.listdir(service.marker_dir))}",
        )
        sigterm_wall = time.time()
        sigterm_at = time.monotonic()
        service.kill(signal.SIGTERM)
        answers = [future.result() for future in futures]
        status = service.wait(timeout=15)
        exited_after = time.monotonic() - sigterm_at

    assert status == 0, service.stderr()
    assert exited_after < 15
    assert sorted(answer["token"] for answer in answers) == tokens
    # Every call was running at the SIGTERM and finished after it, in each worker.
    assert all(a["started"] < sigterm_wall < a["finished"] for a in answers)
    assert set(Counter(answer["worker"] for answer in answers)) == WORKER_TAGS

    assert_sequence(service.launcher_lines(), BOOT + GRACEFUL_END)
    for tag in WORKER_TAGS:
        number = tag.split("-")[1]
        assert service.launcher_lines(tag) == [
            "Caught SIGTERM, stopping the service",
            f"Worker {number} exiting with status 0",
        ]


def test_sigterm_during_a_respawn_backoff_exits_at_once(launch):
    service = launch(launcher={"respawn_backoff_initial": 30, "respawn_backoff_max": 30})
    workers = service.wait_ready()
    os.kill(workers[2], signal.SIGKILL)
    service.wait_line("Respawning worker 2 in 30.0 s")

    sigterm_at = time.monotonic()
    service.kill(signal.SIGTERM)
    status = service.wait(timeout=10)

    assert time.monotonic() - sigterm_at < 3
    assert status == 0, service.stderr()
    lines = service.launcher_lines()
    after_sigterm = lines[lines.index("Caught SIGTERM, stopping workers") :]
    assert not [line for line in after_sigterm if line.startswith("Started worker")]
    assert_sequence(
        lines,
        BOOT
        + [
            "Worker 2 (pid N) killed by SIGKILL (perhaps out of memory?)",
            "Respawning worker 2 in 30.0 s",
            "Caught SIGTERM, stopping workers",
            {f"Worker {n} (pid N) exited with status 0" for n in (1, 3, 4)},
            "All workers stopped, exiting with status 0",
        ],
    )


def test_workers_stop_when_the_master_is_killed(launch):
    service = launch()
    workers = service.wait_ready()

    service.kill(signal.SIGKILL)
    assert service.wait(timeout=5) == -signal.SIGKILL
    killed_at = time.monotonic()
    wait_until(
        lambda: not any(alive(pid) for pid in workers.values()),
        5,
        message=lambda: f"workers {[pid for pid in workers.values() if alive(pid)]} to exit",
    )
    assert time.monotonic() - killed_at < 5
    for number in workers:
        assert service.launcher_lines(f"worker-{number}") == [
            "Master (pid N) is gone, stopping",
            "Caught SIGTERM, stopping the service",
            f"Worker {number} exiting with status 0",
        ]
