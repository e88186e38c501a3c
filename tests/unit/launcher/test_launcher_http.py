"""The master's HTTP listener: answers on the caller's selector, never blocks it."""

import selectors
import socket
import threading
import time

import pytest

from svcframe.launcher import _http
from svcframe.launcher._http import HTTPServer, Response


@pytest.fixture
def served():
    """An HTTPServer on a free port, pumped by a selector loop on a thread."""
    calls = []
    server = HTTPServer(
        "127.0.0.1",
        0,
        {"/ok": lambda: calls.append("ok") or Response(200, "fine\n"), "/boom": lambda: 1 / 0},
    )
    selector = selectors.DefaultSelector()
    server.register(selector)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            for key, events in selector.select(0.05):
                key.data(key.fileobj, events)
            server.expire()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield server, calls
    stop.set()
    thread.join(5)
    server.close()
    selector.close()


def request(server, raw, timeout=5):
    with socket.create_connection(server.address, timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_get_head_and_errors(served):
    server, calls = served
    reply = request(server, b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.0 200 OK\r\n") and reply.endswith(b"\r\n\r\nfine\n")
    assert b"Content-Length: 5\r\n" in reply
    head = request(server, b"HEAD /ok?x=1 HTTP/1.1\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") and head.endswith(b"\r\n\r\n")
    assert request(server, b"GET /nope HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.0 404")
    assert request(server, b"POST /ok HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.0 405")
    assert request(server, b"garbage\r\n\r\n").startswith(b"HTTP/1.0 400")
    assert request(server, b"GET /boom HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.0 500")
    assert request(server, b"GET /" + b"a" * 10000).startswith(b"HTTP/1.0 400")
    assert calls == ["ok", "ok"]


def test_a_stalled_client_does_not_hold_others(served, monkeypatch):
    server, _ = served
    monkeypatch.setattr(_http, "IDLE_TIMEOUT", 0.3)
    stalled = socket.create_connection(server.address, timeout=5)
    stalled.sendall(b"GET /ok HTTP/1.1\r\n")
    started = time.monotonic()
    assert request(server, b"GET /ok HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.0 200")
    assert time.monotonic() - started < 0.3
    # The stalled one is dropped once idle past its deadline.
    assert stalled.recv(100) == b""
    stalled.close()


def test_the_next_deadline_is_the_first_open_connections(served, monkeypatch):
    # The master sleeps until then at most: an idle master wakes for nothing else.
    server, _ = served
    assert server.next_deadline() is None
    monkeypatch.setattr(_http, "IDLE_TIMEOUT", 30)
    with socket.create_connection(server.address, timeout=5) as stalled:
        stalled.sendall(b"GET /ok HTTP/1.1\r\n")
        opened = time.monotonic()
        deadline = None
        for _ in range(100):
            deadline = server.next_deadline()
            if deadline is not None:
                break
            time.sleep(0.01)
        assert deadline is not None and opened + 29 < deadline < opened + 31


def test_a_busy_port_fails_at_once():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(OSError):
            HTTPServer("127.0.0.1", taken.getsockname()[1], {})
