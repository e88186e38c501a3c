"""A Python subprocess a test talks to: it prints READY, then one JSON result line.

Shared by the functional suites that run peers in processes of their own
(the embedded transport across processes, eventlet in a patched process).
"""

import json
import os
import queue
import subprocess
import threading
import time

__all__ = ["PeerProcess"]

TIMEOUT = 60


class PeerProcess:
    """A subprocess; stdout read line by line, stderr kept in a file for failure messages."""

    def __init__(self, name, argv, stderr_path):
        self.name = name
        self.stderr_path = str(stderr_path)
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
        """Close its stdin: the peer's cue to stop."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def stop(self, timeout=15):
        """Ask it to stop, wait up to ``timeout``, then kill it (it is ours)."""
        self.request_stop()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._stderr.close()
