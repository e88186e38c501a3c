"""Run ``svc-launch`` as a real process tree against RabbitMQ and read what it says.

A :class:`Launch` is one run of the real console script with a config file
of its own: a unique ``control_exchange`` and ``host`` (so that runs never
share a queue; every call targets ``<topic>.<host>``), an SQLite registry
under the test's directory, and short intervals.  The service runs in a
session of its own; cleanup kills, by pid, only the master and the workers
it logged, and only while they still belong to that session.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import kombu
from oslo_config import cfg

from svcframe import context, messaging
from svcframe.conf import register_messaging_opts
from svcframe.testing import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
SVC_LAUNCH = os.path.join(os.path.dirname(sys.executable), "svc-launch")
SVC_MANAGE = os.path.join(os.path.dirname(sys.executable), "svc-manage")

RABBIT_HOST = os.environ.get("SVCFRAME_TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_PORT = int(os.environ.get("SVCFRAME_TEST_RABBIT_PORT", "5672"))
RABBIT_URL = f"rabbit://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/"
AMQP_URL = f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}//"

COMPONENTS = {
    "slowpoke": "tests.functional.runtime.runtime_components:SlowpokeManager",
    "greeter": "tests.functional.runtime.runtime_components:GreeterManager",
    "bootfail": "tests.functional.runtime.runtime_components:BootFailureManager",
    "initfail": "tests.functional.runtime.runtime_components:InitFailureManager",
    "brokenimport": "tests.functional.runtime.runtime_broken_component:Manager",
}

_LINE = re.compile(
    r"^\S+ \S+ (?P<pid>\d+) (?P<tag>\S+) (?P<level>[A-Z]+) (?P<logger>\S+) "
    r"\[[^\]]*\] (?P<msg>.*)$"
)
_PID = re.compile(r"pid \d+")
_STARTED = re.compile(r"Started worker (\d+) of \d+ \(pid (\d+)\)")


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def install_components(directory):
    """A dist-info directory registering COMPONENTS; put ``directory`` on sys.path."""
    info = os.path.join(directory, "svcframe_runtime_test_components-1.0.dist-info")
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w") as stream:
        stream.write(
            "Metadata-Version: 2.1\nName: svcframe-runtime-test-components\nVersion: 1.0\n"
        )
    with open(os.path.join(info, "entry_points.txt"), "w") as stream:
        stream.write("[svcframe.components]\n")
        stream.writelines(f"{name} = {target}\n" for name, target in COMPONENTS.items())
    return directory


def hide_pids(message):
    return _PID.sub("pid N", message)


def alive(pid):
    """True unless the process is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def write_config(path, sections):
    text = "".join(
        f"[{name}]\n" + "".join(f"{key} = {value}\n" for key, value in values.items())
        for name, values in sections.items()
    )
    with open(path, "w") as stream:
        stream.write(text)


class Launch:
    """One run of ``svc-launch --binary BINARY --workers N`` on RabbitMQ."""

    def __init__(
        self,
        tmp_path,
        components_dir,
        binary="conductor",
        workers=4,
        env=None,
        extra_args=(),
        **sections,
    ):
        self.tmp_path = tmp_path
        self.binary = binary
        self.workers_count = workers
        self.topic = binary
        self.host = unique("rt-")
        self.exchange = unique("test_")
        self.state_path = tmp_path / "state"
        self.marker_dir = tmp_path / "markers"
        self.marker_dir.mkdir(exist_ok=True)
        self.conf_path = tmp_path / "svc.conf"
        self.stdout_path = tmp_path / "stdout.log"
        self.stderr_path = tmp_path / "stderr.log"
        self.config = {
            "DEFAULT": {
                "transport_url": RABBIT_URL,
                "control_exchange": self.exchange,
                "state_path": self.state_path,
                "host": self.host,
                "report_interval": 1,
                "service_down_time": 3,
                "initial_report_delay": 0,
                "periodic_fuzzy_delay": 0,
                "graceful_shutdown_timeout": 15,
                "use_stderr": "true",
                "log_options": "false",
            },
            "launcher": {
                "worker_hang_timeout": 2,
                "worker_heartbeat_interval": 0.2,
                "respawn_backoff_initial": 0.2,
                "respawn_backoff_max": 1.6,
                "respawn_backoff_reset_after": 60,
            },
            "oslo_messaging_rabbit": {"rabbit_transient_queues_ttl": 300},
            "slowpoke": {"marker_dir": self.marker_dir},
        }
        self.configure(**sections)
        self.host = self.config["DEFAULT"]["host"]
        self.env = dict(os.environ, **(env or {}))
        for key in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            if key not in (env or {}):
                self.env.pop(key, None)
        self.env["PYTHONPATH"] = os.pathsep.join([str(components_dir), REPO_ROOT])
        self.extra_args = list(extra_args)
        self.proc = None
        self.started_at = None

    # -- the process ---------------------------------------------------------

    def configure(self, **sections):
        """Change options (``section={name: value}``) and rewrite the config file."""
        for name, values in sections.items():
            self.config.setdefault(name, {}).update(values)
        write_config(self.conf_path, self.config)

    @property
    def command(self):
        command = [SVC_LAUNCH, "--binary", self.binary, "--config-file", str(self.conf_path)]
        if self.workers_count is not None:
            command += ["--workers", str(self.workers_count)]
        return command + self.extra_args

    def start(self):
        self._stdout = open(self.stdout_path, "wb")
        self._stderr = open(self.stderr_path, "wb")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            self.command,
            stdout=self._stdout,
            stderr=self._stderr,
            env=self.env,
            start_new_session=True,
        )
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Kill what is left of this run (by pid, in its session only); clean the broker."""
        try:
            if self.proc is not None:
                for pid in [self.proc.pid, *self.all_worker_pids()]:
                    self._kill_own(pid)
                try:
                    self.proc.wait(timeout=10)
                finally:
                    self._stdout.close()
                    self._stderr.close()
        finally:
            # A run on the embedded transport has nothing on the shared broker.
            if self.config["DEFAULT"].get("transport_url"):
                delete_broker_entities(self.exchange, [f"{self.topic}.{self.host}"], [self.topic])

    def _kill_own(self, pid):
        if pid == self.proc.pid and self.proc.poll() is not None:
            return
        try:
            if os.getsid(pid) == self.proc.pid and alive(pid):
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    @property
    def pid(self):
        return self.proc.pid

    def kill(self, signum):
        os.kill(self.proc.pid, signum)

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    # -- what it says --------------------------------------------------------

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def stdout(self):
        return self.stdout_path.read_text(errors="replace")

    def records(self):
        """(pid, tag, level, logger, message) of every log line."""
        found = []
        for line in self.stderr().splitlines():
            match = _LINE.match(line)
            if match:
                found.append(
                    (int(match["pid"]), match["tag"], match["level"], match["logger"], match["msg"])
                )
        return found

    def launcher_lines(self, tag="master"):
        """What the launcher logged in the master (or ``tag``), pids hidden."""
        return [
            hide_pids(msg)
            for _, line_tag, _, logger, msg in self.records()
            if line_tag == tag and logger == "svcframe.launcher"
        ]

    def lines(self):
        return [record[4] for record in self.records()]

    def count(self, text):
        return sum(text in line for line in self.lines())

    def wait_line(self, text, timeout=10, count=1):
        """Wait until ``text`` is in ``count`` log lines; fail at once if the service exited."""

        def found():
            exited = self.proc.poll() is not None
            if self.count(text) >= count:
                return True
            if exited:
                raise AssertionError(
                    f"exited with status {self.proc.returncode} before logging {count} x "
                    f"{text!r}:\n{self.stderr()}"
                )
            return False

        return wait_until(
            found, timeout, message=lambda: f"{count} x {text!r} in the log:\n{self.stderr()}"
        )

    def wait_ready(self, timeout=20):
        self.wait_line(f"All {self.workers_count} workers ready", timeout)
        return self.workers()

    def workers(self):
        """{number: pid} of the workers the master last started."""
        current = {}
        for msg in self.lines():
            match = _STARTED.match(msg)
            if match:
                current[int(match[1])] = int(match[2])
        return current

    def all_worker_pids(self):
        pids = set()
        for msg in self.lines():
            match = _STARTED.match(msg)
            if match:
                pids.add(int(match[2]))
        return sorted(pids)

    def client(self):
        return Client(self.conf_path, self.topic, self.host)


def delete_broker_entities(exchange, queues, unused_queues=()):
    """Delete a run's exchange and queues; ``unused_queues`` only without consumers."""
    try:
        connection = kombu.Connection(AMQP_URL, connect_timeout=5)
        connection.connect()
    except OSError:
        return
    with connection:
        operations = [lambda c, q=q: c.queue_delete(q) for q in queues]
        operations += [lambda c, q=q: c.queue_delete(q, if_unused=True) for q in unused_queues]
        operations.append(lambda c: c.exchange_delete(exchange))
        for operation in operations:
            # A failed delete (NOT_FOUND, IN_USE) closes its channel.
            channel = connection.channel()
            try:
                operation(channel)
            except Exception:  # noqa: BLE001 - nothing to clean is fine
                pass
            finally:
                try:
                    channel.close()
                except Exception:  # noqa: BLE001
                    pass


class Client:
    """RPC calls to ``<topic>.<host>``, with the service's own config file."""

    def __init__(self, conf_path, topic, host):
        self.conf = cfg.ConfigOpts()
        register_messaging_opts(self.conf)
        self.conf(
            ["--config-file", str(conf_path)],
            project="svcframe",
            default_config_files=[],
            default_config_dirs=[],
        )
        self.transport = messaging.get_rpc_transport(self.conf)
        self.rpc = messaging.get_rpc_client(
            self.transport,
            messaging.Target(topic=topic, server=host, version="1.0"),
            serializer=messaging.RequestContextSerializer(),
        )
        self.context = context.get_admin_context()

    def call(self, method, timeout=10, **kwargs):
        return self.rpc.prepare(timeout=timeout).call(self.context, method, **kwargs)

    def close(self):
        self.transport.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class Outcome:
    def __init__(self, started, finished, result=None, error=None):
        self.started = started
        self.finished = finished
        self.result = result
        self.error = error

    def __repr__(self):
        what = self.result if self.error is None else repr(self.error)
        return f"<Outcome {self.started:.2f}-{self.finished:.2f} {what}>"


class Load:
    """Threads making calls back to back until stopped; every outcome is kept."""

    def __init__(self, call, threads=8):
        self._call = call
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.outcomes = []
        self._threads = [
            threading.Thread(target=self._run, name=f"load-{n}", daemon=True)
            for n in range(threads)
        ]

    def _run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                outcome = Outcome(started, time.monotonic(), result=self._call())
            except Exception as exc:  # noqa: BLE001 - every failure is the test's business
                outcome = Outcome(started, time.monotonic(), error=exc)
            outcome.finished = time.monotonic()
            with self._lock:
                self.outcomes.append(outcome)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self, timeout=30):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        assert not any(thread.is_alive() for thread in self._threads), "a caller is stuck"

    def snapshot(self):
        with self._lock:
            return list(self.outcomes)

    def successes(self):
        return [o for o in self.snapshot() if o.error is None]

    def failures(self):
        return [o for o in self.snapshot() if o.error is not None]

    def wait_successes(self, count, timeout, after=None):
        """Wait for ``count`` successful calls (started after ``after``, if given)."""
        return wait_until(
            lambda: sum(1 for o in self.successes() if after is None or o.started > after) >= count,
            timeout,
            message=lambda: f"{count} successful calls; outcomes: {self.snapshot()[-20:]}",
        )


def run_cli(*args, env=None, timeout=30):
    """Run a console script; the CompletedProcess, text mode."""
    return subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, **(env or {})),
    )


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.05)

    def receive(self):
        """(sender pid, {key: value}, raw text) of the next datagram, or None."""
        try:
            data, ancdata, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except TimeoutError:
            return None
        pid = None
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = int.from_bytes(payload[:4], sys.byteorder)
        text = data.decode()
        fields = dict(line.split("=", 1) for line in text.splitlines())
        return pid, fields, text

    def wait_for(self, key, timeout, seen):
        """Receive until a datagram has ``key``; every datagram is appended to ``seen``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.receive()
            if message is None:
                continue
            seen.append(message)
            if key in message[1]:
                return message
        raise AssertionError(f"no {key} within {timeout} s; got {[m[2] for m in seen]}")

    def close(self):
        self.sock.close()
