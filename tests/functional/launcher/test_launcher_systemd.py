"""What the launcher tells systemd, read from a real NOTIFY_SOCKET."""

import signal
import time

import pytest
from launcher_harness import Example, NotifySocket

from svcframe.testing import wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def notify(tmp_path):
    sock = NotifySocket(str(tmp_path / "notify.sock"))
    yield sock
    sock.close()


def _values(messages, key):
    return [
        line.split("=", 1)[1]
        for _, message in messages
        for line in message.splitlines()
        if line.startswith(key + "=")
    ]


def test_master_notifies_ready_reloading_stopping_and_watchdog(tmp_path, notify):
    env = {"WATCHDOG_USEC": "400000"}
    with Example(tmp_path, notify=notify, env=env) as example:
        wait_until(lambda: "READY=1" in notify.states(), 10, message="READY=1")
        time.sleep(0.5)
        example.configure(example={"color": "blue"})
        example.kill(signal.SIGHUP)
        wait_until(
            lambda: notify.states().count("READY=1") == 2, 10, message="READY=1 after reload"
        )
        example.kill(signal.SIGTERM)
        assert example.wait(timeout=10) == 0
    messages = notify.drain()
    assert notify.states() == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]
    assert {pid for pid, _ in messages} == {example.pid}
    (reloading,) = [m for _, m in messages if "RELOADING=1" in m]
    usec = int(_values([(None, reloading)], "MONOTONIC_USEC")[0])
    now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert 0 < now_usec - usec < 30_000_000
    assert sum(m == "WATCHDOG=1" for _, m in messages) >= 2
    statuses = _values(messages, "STATUS")
    assert statuses[statuses.index("4/4 workers ready") :].count("0/4 workers ready") == 0
    assert "reloading" in statuses
    assert "stopping" in statuses
    ready = [m for _, m in messages if "READY=1" in m.splitlines()]
    assert all("STATUS=4/4 workers ready" in m for m in ready)


def test_single_process_notifies_itself(tmp_path, notify):
    with Example(tmp_path, scenario="single", notify=notify) as example:
        wait_until(lambda: "READY=1" in notify.states(), 10, message="READY=1")
        example.kill(signal.SIGHUP)
        wait_until(
            lambda: notify.states().count("READY=1") == 2, 10, message="READY=1 after reload"
        )
        example.kill(signal.SIGTERM)
        assert example.wait(timeout=10) == 0
    assert notify.states() == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]
    assert {pid for pid, _ in notify.drain()} == {example.pid}
