"""Fixtures for the embedded transport suite: a data directory and peer processes."""

import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "embedded_peer.py")
TIMEOUT = 60


class Peer:
    """An embedded_peer.py subprocess; stdout read line by line, stderr kept in a file."""

    def __init__(self, name, argv, log_dir):
        self.name = name
        self.stderr_path = os.path.join(str(log_dir), f"{name}.stderr")
        self._stderr = open(self.stderr_path, "w+")
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
        )
        self._lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _fail(self, why):
        self._stderr.flush()
        with open(self.stderr_path) as f:
            err = f.read()[-6000:]
        raise AssertionError(f"peer {self.name}: {why}\n--- stderr ---\n{err}")

    def _next_line(self, deadline):
        try:
            return self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            self._fail("no output in time")

    def wait_ready(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while (line := self._next_line(deadline)) != "READY":
            if line is None:
                self._fail(f"exited with status {self.proc.wait()} before it was ready")
        return self

    def result(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        lines = []
        while (line := self._next_line(deadline)) is not None:
            lines.append(line)
        status = self.proc.wait(max(0.1, deadline - time.monotonic()))
        if status != 0 or not lines:
            self._fail(f"exited with status {status}, output {lines!r}")
        return json.loads(lines[-1])

    def request_stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def stop(self, timeout):
        self.request_stop()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._stderr.close()


class Peers:
    def __init__(self, config, log_dir):
        self.config = config
        self.log_dir = log_dir
        self.started = []

    def start(self, role, label, topic, **options):
        argv = [sys.executable, PEER, role, "--config-file", self.config, "--topic", topic]
        for key, value in options.items():
            argv += [f"--{key}", str(value)]
        peer = Peer(label, argv, self.log_dir)
        self.started.append(peer)
        return peer

    def server(self, topic, server):
        return self.start("server", server, topic, server=server)

    def stop_all(self, timeout=15):
        for peer in self.started:
            peer.request_stop()
        deadline = time.monotonic() + timeout
        for peer in self.started:
            peer.stop(max(0.1, deadline - time.monotonic()))


@pytest.fixture
def embedded_config(request, tmp_path):
    """A config with no transport_url: the embedded transport, in a directory of the test's.

    The directory is set by ``[embedded] data_dir``, or by ``[DEFAULT] state_path``
    when the test is parametrized indirectly with "state_path".
    """
    how = getattr(request, "param", "data_dir")
    body = "[DEFAULT]\nrpc_response_timeout = 20\n"
    if how == "state_path":
        body += f"state_path = {tmp_path / 'state'}\n"
    else:
        body += f"[embedded]\ndata_dir = {tmp_path / 'queues'}\n"
    path = tmp_path / "embedded.conf"
    path.write_text(body)
    return str(path)


@pytest.fixture
def peers(embedded_config, tmp_path):
    group = Peers(embedded_config, tmp_path)
    yield group
    group.stop_all()
