"""svc-launch under a notify-type unit: what it tells NOTIFY_SOCKET, and when."""

import signal
import time

import pytest
from runtime_harness import NotifySocket

pytestmark = [pytest.mark.rabbit, pytest.mark.timeout(60)]

STATES = ("READY", "RELOADING", "STOPPING")


@pytest.fixture
def notify_socket(tmp_path):
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def test_ready_watchdog_reload_and_stopping_in_order(launch, notify_socket):
    service = launch(
        env={"NOTIFY_SOCKET": notify_socket.path, "WATCHDOG_USEC": "2000000"},
        conductor={"stale_task_after": 300},
    )
    seen = []

    notify_socket.wait_for("READY", timeout=20, seen=seen)
    # The master logs each worker's readiness before it notifies.
    assert service.count(") ready") == 4
    assert service.count("All 4 workers ready") == 1
    ready_statuses = [fields["STATUS"] for _, fields, _ in seen if "STATUS" in fields]
    assert ready_statuses[-1] == "4/4 workers ready"
    assert all(status.endswith("/4 workers ready") for status in ready_statuses)

    # WATCHDOG_USEC of 2 s: a WATCHDOG=1 every second while healthy.
    first = notify_socket.wait_for("WATCHDOG", timeout=3, seen=seen)
    watchdog_at = time.monotonic()
    notify_socket.wait_for("WATCHDOG", timeout=3, seen=seen)
    assert 0.5 < time.monotonic() - watchdog_at < 2.0
    assert first[2] == "WATCHDOG=1"

    service.configure(conductor={"stale_task_after": 42})
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    service.kill(signal.SIGHUP)
    _, reloading, _ = notify_socket.wait_for("RELOADING", timeout=5, seen=seen)
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert before <= int(reloading["MONOTONIC_USEC"]) <= after
    assert reloading["STATUS"] == "reloading"
    notify_socket.wait_for("READY", timeout=10, seen=seen)
    # READY=1 again only once every worker applied the new configuration.
    assert service.count("applied the new configuration") == 4
    assert service.count("Reload done, 4/4 workers ready") == 1

    service.kill(signal.SIGTERM)
    _, stopping, _ = notify_socket.wait_for("STOPPING", timeout=5, seen=seen)
    assert stopping["STATUS"] == "stopping"
    assert service.wait(timeout=15) == 0
    while (message := notify_socket.receive()) is not None:
        seen.append(message)

    states = [key for _, fields, _ in seen for key in fields if key in STATES]
    assert states == ["READY", "RELOADING", "READY", "STOPPING"]
    # Only the master speaks to systemd, never a worker.
    assert {pid for pid, _, _ in seen} == {service.pid}
    statuses = [fields["STATUS"] for _, fields, _ in seen if "STATUS" in fields]
    assert "0/4 workers ready" in statuses
    assert statuses[-1].startswith("stopping, ")
    # No WATCHDOG=1 once stopping began.
    stop_index = next(i for i, (_, fields, _) in enumerate(seen) if "STOPPING" in fields)
    assert all("WATCHDOG" not in fields for _, fields, _ in seen[stop_index:])
