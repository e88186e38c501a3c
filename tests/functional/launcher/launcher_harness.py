"""Run example_service.py as a real process tree and read what it says.

Each run leads its own process group (start_new_session), so cleanup
kills exactly the processes the test started, by the master's pid.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time

from svcframe.testing import wait_until

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "example_service.py")

_LINE = re.compile(
    r"^\S+ \S+ (?P<pid>\d+) (?P<tag>\S+) (?P<level>[A-Z]+) svcframe\.launcher \[-\] (?P<msg>.*)$"
)
_PID = re.compile(r"pid \d+")
_SECONDS = re.compile(r"for \d+\.\d s")

DEFAULTS = {
    "DEFAULT": {
        "use_stderr": "true",
        "log_options": "false",
        "graceful_shutdown_timeout": "10",
    },
    "launcher": {
        "workers": "4",
        "worker_heartbeat_interval": "0.2",
        "worker_hang_timeout": "2",
        "respawn_backoff_initial": "0.2",
        "respawn_backoff_max": "1.6",
        "respawn_backoff_reset_after": "60",
        "boot_failure_limit": "3",
    },
    "example": {"job_seconds": "1", "color": "red", "flavor": "vanilla"},
}


def hide_pids(message):
    return _SECONDS.sub("for X s", _PID.sub("pid N", message))


class NotifySocket:
    """A NOTIFY_SOCKET bound by the test; remembers who sent what."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.setblocking(False)
        self.messages = []

    def drain(self):
        while True:
            try:
                data, ancdata, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except BlockingIOError:
                return self.messages
            pid = None
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = int.from_bytes(payload[:4], sys.byteorder)
            self.messages.append((pid, data.decode()))

    def states(self):
        """READY/RELOADING/STOPPING keys, in order."""
        keys = []
        for _, message in self.drain():
            for line in message.splitlines():
                if line in ("READY=1", "RELOADING=1", "STOPPING=1"):
                    keys.append(line)
        return keys

    def close(self):
        self.sock.close()


class Example:
    """One run of example_service.py."""

    def __init__(self, tmp_path, scenario="multi", notify=None, env=None, **sections):
        self.tmp_path = tmp_path
        self.scenario = scenario
        self.jobs_dir = tmp_path / "jobs"
        for sub in ("claimed", "results", "state"):
            (self.jobs_dir / sub).mkdir(parents=True, exist_ok=True)
        self.config = {name: dict(values) for name, values in DEFAULTS.items()}
        self.config["example"]["jobs_dir"] = str(self.jobs_dir)
        self.configure(**sections)
        self.log_path = tmp_path / "example.log"
        self.conf_path = tmp_path / "example.conf"
        self.env = dict(os.environ, **(env or {}))
        self.env.pop("NOTIFY_SOCKET", None)
        if notify is not None:
            self.env["NOTIFY_SOCKET"] = notify.path
        self.proc = None

    def configure(self, **sections):
        for name, values in sections.items():
            self.config.setdefault(name, {}).update({k: str(v) for k, v in values.items()})
        text = "".join(
            f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
            for name, values in self.config.items()
        )
        (self.tmp_path / "example.conf").write_text(text)

    def __enter__(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, EXAMPLE, self.scenario, "--config-file", str(self.conf_path)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        return self

    def __exit__(self, *exc_info):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        finally:
            self.log.close()

    @property
    def pid(self):
        return self.proc.pid

    def kill(self, signum):
        os.kill(self.proc.pid, signum)

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def records(self):
        """(pid, tag, level, message) of every svcframe.launcher line."""
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            match = _LINE.match(line)
            if match:
                found.append((int(match["pid"]), match["tag"], match["level"], match["msg"]))
        return found

    def master_lines(self, tag="master"):
        """Messages logged by the master (or ``tag``), pids hidden."""
        return [hide_pids(msg) for _, line_tag, _, msg in self.records() if line_tag == tag]

    def lines(self):
        return [msg for _, _, _, msg in self.records()]

    def wait_line(self, text, timeout=10, count=1):
        return wait_until(
            lambda: sum(text in line for line in self.lines()) >= count,
            timeout,
            message=lambda: (
                f"{count} x {text!r} in the log:\n{self.log_path.read_text(errors='replace')}"
            ),
        )

    def workers(self):
        """{number: pid} of the workers the master last started."""
        current = {}
        for msg in self.lines():
            match = re.match(r"Started worker (\d+) of \d+ \(pid (\d+)\)", msg)
            if match:
                current[int(match[1])] = int(match[2])
        return current

    def submit(self, count, prefix="job"):
        names = []
        for _ in range(count):
            name = f"{prefix}-{time.monotonic_ns()}"
            draft = self.jobs_dir / f"draft-{name}"
            draft.write_text("")
            os.rename(draft, self.jobs_dir / name)
            names.append(name)
        return names

    def results(self):
        return {
            p.name: int(p.read_text())
            for p in (self.jobs_dir / "results").iterdir()
            if not p.name.endswith(".tmp")
        }

    def claimed(self):
        return {p.name for p in (self.jobs_dir / "claimed").iterdir()}

    def state(self, what, pid):
        path = self.jobs_dir / "state" / f"{what}-{pid}"
        return path.read_text().split() if path.exists() else None


def alive(pid):
    """True unless the process is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode().strip()
