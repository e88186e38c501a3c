"""A real Prometheus server scraping one target, for the metrics tests.

Runs Debian's ``prometheus`` binary (never the system service) with its own
configuration and storage under a temporary directory, on a free port of
127.0.0.1, scraping every second; stopped by its pid.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import urllib.parse
import urllib.request

from svcframe.testing import wait_until

__all__ = ["PROMETHEUS", "Prometheus", "free_port", "http_get"]

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url, timeout=5):
    """(status, body text) of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class Prometheus:
    def __init__(self, directory, target):
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = os.path.join(directory, "prometheus.yml")
        with open(self.config_path, "w") as stream:
            stream.write(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                "scrape_configs:\n  - job_name: svcframe\n"
                f"    static_configs:\n      - targets: ['{target}']\n"
            )
        self.proc = None

    def start(self, timeout=30):
        self._log = open(os.path.join(self.directory, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={os.path.join(self.directory, 'data')}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

        def ready():
            assert self.proc.poll() is None, f"prometheus exited: {self.log()}"
            return http_get(f"{self.url}/-/ready", timeout=1)[0] == 200

        wait_until(
            ready,
            timeout,
            interval=0.2,
            ignore=OSError,
            message=lambda: f"prometheus ready: {self.log()}",
        )
        return self

    def log(self):
        with open(os.path.join(self.directory, "prometheus.log"), errors="replace") as stream:
            return stream.read()

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()

    def query(self, expr):
        """{frozenset(labels): value} of an instant query."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        status, body = http_get(url)
        assert status == 200, body
        data = json.loads(body)["data"]
        return {
            frozenset(item["metric"].items()): float(item["value"][1]) for item in data["result"]
        }

    def scalar(self, expr):
        """The value of a query that yields at most one series (None: none yet)."""
        values = list(self.query(expr).values())
        assert len(values) <= 1, values
        return values[0] if values else None

    def wait_value(self, expr, expected, timeout=30):
        seen = []

        def reached():
            seen.append(self.scalar(expr))
            return seen[-1] == expected

        wait_until(
            reached, timeout, interval=0.3, message=lambda: f"{expr} == {expected}; is {seen[-1]}"
        )
        return expected
