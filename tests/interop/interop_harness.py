"""Helpers of the interop suite: config files, peer processes, broker cleanup.

oslo.messaging never runs in the test process: importing it selects
oslo.service's eventlet backend, which must not leak into svcframe's
process.  Every oslo.messaging server and client is an ``interop_peer.py``
subprocess, and so is every svcframe peer, so both run the same script.
"""

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "interop_peer.py")
RABBIT_HOST = os.environ.get("SVCFRAME_TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_PORT = int(os.environ.get("SVCFRAME_TEST_RABBIT_PORT", "5672"))
TRANSPORT_URL = f"rabbit://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/"
AMQP_URL = f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}//"

QUORUM = {"rabbit_quorum_queue": "true", "rabbit_transient_quorum_queue": "true"}
# Per-process queues (replies, fanout) of a killed peer vanish soon after.
TRANSIENT_TTL = 60
STARTUP_TIMEOUT = 30
RUN_TIMEOUT = 90


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def rabbitmqctl(*args):
    """True when ``rabbitmqctl ARGS`` succeeded."""
    command = shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path="/usr/sbin")
    if command is None:
        return False
    try:
        return subprocess.run([command, *args], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def create_vhost(prefix):
    """A new virtual host guest may use, or None when rabbitmqctl cannot make one."""
    name = unique(prefix)
    if not rabbitmqctl("add_vhost", name):
        return None
    if not rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*"):
        rabbitmqctl("delete_vhost", name)
        return None
    return name


def delete_vhost(name):
    # A broker restarting under the tests refuses it for a moment.
    for _ in range(3):
        if rabbitmqctl("delete_vhost", name):
            return
        time.sleep(2)


def write_config(directory, exchange, **rabbit_options):
    """A config file both libraries read: [DEFAULT] and [oslo_messaging_rabbit]."""
    path = os.path.join(str(directory), f"{exchange}.conf")
    lines = [
        "[DEFAULT]",
        f"transport_url = {TRANSPORT_URL}",
        f"control_exchange = {exchange}",
        "rpc_response_timeout = 20",
        "[oslo_messaging_rabbit]",
        f"rabbit_transient_queues_ttl = {TRANSIENT_TTL}",
    ]
    lines += [f"{key} = {value}" for key, value in rabbit_options.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def peer_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (HERE, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONWARNINGS"] = "ignore"
    return env


class Peer:
    """A peer subprocess; its stdout is read line by line, its stderr kept in a file."""

    def __init__(self, name, argv, log_dir):
        self.name = name
        self.stderr_path = os.path.join(str(log_dir), f"{name}.stderr")
        self._stderr = open(self.stderr_path, "w+")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=peer_env(),
            text=True,
        )
        self._lines = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def stderr_text(self, limit=6000):
        self._stderr.flush()
        with open(self.stderr_path) as f:
            text = f.read()
        return text[-limit:]

    def _fail(self, why):
        raise AssertionError(f"peer {self.name}: {why}\n--- stderr ---\n{self.stderr_text()}")

    def wait_ready(self, timeout=STARTUP_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(f"not ready after {timeout} s")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self._fail(f"exited with status {self.proc.wait()} before it was ready")
            if line == "READY":
                return self

    def result(self, timeout=RUN_TIMEOUT):
        """The JSON line a client peer prints, once it exits with status 0."""
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self._fail(f"still running after {timeout} s")
        self._reader.join(5)
        lines = []
        while True:
            line = self._lines.get_nowait() if not self._lines.empty() else None
            if line is None:
                break
            lines.append(line)
        if status != 0 or not lines:
            self._fail(f"exited with status {status}, output {lines!r}")
        return json.loads(lines[-1])

    def request_stop(self):
        """Close stdin: a server stops cleanly on EOF."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def stop(self, timeout=15):
        """Stop (see request_stop) and wait; kill if it takes too long."""
        self.request_stop()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._stderr.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class PeerGroup:
    """Starts peers and stops every one of them at the end, whatever happened."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.peers = []

    def start(self, role, impl, config, topic, name=None, **options):
        argv = [sys.executable, PEER, role, "--impl", impl, "--config-file", config]
        argv += ["--topic", topic]
        for key, value in options.items():
            argv += [f"--{key}", str(value)]
        name = name or f"{role}-{impl}-{len(self.peers)}"
        peer = Peer(name, argv, self.log_dir)
        self.peers.append(peer)
        return peer

    def server(self, impl, config, topic, server="srv1"):
        return self.start("server", impl, config, topic, name=f"{impl}-{server}", server=server)

    def stop_all(self, timeout=15):
        """Stop every peer, in parallel (an oslo.messaging server takes seconds to stop)."""
        for peer in self.peers:
            peer.request_stop()
        deadline = time.monotonic() + timeout
        for peer in reversed(self.peers):
            peer.stop(max(0.1, deadline - time.monotonic()))
        self.peers = []


class Janitor:
    """Deletes the queues and exchanges a test created on the broker."""

    def __init__(self, conn):
        self.conn = conn
        self.queues = []
        self.exchanges = []

    def add_server_entities(self, exchange, topic, server):
        self.queues += [topic, f"{topic}.{server}"]
        self.exchanges += [exchange, f"{topic}_fanout"]

    def cleanup(self):
        """Best effort: a broker that is gone must not hide the test's own failure."""
        for kind, names in (("queue", self.queues), ("exchange", self.exchanges)):
            for name in dict.fromkeys(names):
                try:
                    channel = self.conn.channel()
                    try:
                        if kind == "queue":
                            channel.queue_delete(name)
                        else:
                            channel.exchange_delete(name)
                    finally:
                        channel.close()
                except Exception:  # noqa: BLE001 - already gone, or no broker
                    try:
                        self.conn.ensure_connection(max_retries=1)
                    except Exception:  # noqa: BLE001
                        pass
        self.queues, self.exchanges = [], []
