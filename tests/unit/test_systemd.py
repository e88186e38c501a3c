import os
import socket
import time
import uuid

import pytest

from svcframe import systemd


@pytest.fixture
def listener(tmp_path, monkeypatch):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    yield sock
    sock.close()


def test_without_notify_socket_nothing_is_sent(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify_ready() is False


def test_ready_with_status(listener):
    assert systemd.notify_ready("4/4 workers ready") is True
    assert listener.recv(4096) == b"READY=1\nSTATUS=4/4 workers ready"


def test_reloading_carries_the_monotonic_clock(listener):
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    systemd.notify_reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    first, second = listener.recv(4096).decode().split("\n")
    assert first == "RELOADING=1"
    key, usec = second.split("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(usec) <= after


def test_stopping_status_and_watchdog(listener):
    systemd.notify_stopping()
    systemd.notify_status("two\nlines")
    systemd.notify_watchdog()
    assert [listener.recv(4096) for _ in range(3)] == [
        b"STOPPING=1",
        b"STATUS=two lines",
        b"WATCHDOG=1",
    ]


def test_abstract_namespace_socket(monkeypatch):
    name = f"svcframe-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.notify_ready()
        assert sock.recv(4096) == b"READY=1"


def test_a_full_queue_drops_rather_than_blocks(listener):
    sent = [systemd.notify_watchdog() for _ in range(200)]
    assert sent[0] is True
    assert sent[-1] is False


def test_a_vanished_socket_is_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert systemd.notify_ready() is False


@pytest.mark.parametrize(
    "usec, pid, expected",
    [
        ("30000000", None, 15.0),
        ("30000000", "self", 15.0),
        ("30000000", "1", None),
        (None, None, None),
        ("0", None, None),
        ("junk", None, None),
    ],
)
def test_watchdog_interval(monkeypatch, usec, pid, expected):
    for key, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, str(os.getpid()) if value == "self" else value)
    assert systemd.watchdog_interval() == expected
