"""Helpers of the eventlet suite: monkey-patched peer processes."""

import json
import os
import queue
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "eventlet_peer.py")
RABBIT_HOST = os.environ.get("SVCFRAME_TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_PORT = int(os.environ.get("SVCFRAME_TEST_RABBIT_PORT", "5672"))
TRANSPORT_URL = f"rabbit://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/"
AMQP_URL = f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}//"
TIMEOUT = 60


class Peer:
    """An eventlet_peer.py subprocess; stdout read line by line, stderr kept in a file."""

    def __init__(self, argv, stderr_path):
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "w+")
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
        raise AssertionError(f"{why}\n--- stderr ---\n{err}")

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

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._stderr.close()
