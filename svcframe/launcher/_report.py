"""The report a service process writes on SIGUSR2 (nova's "Guru Meditation").

The master forwards the signal to every worker; each worker (or the only
process, with one worker) writes one report to its log and to a file under
``state_path/reports/``: the stack of every thread, the RPC requests in
flight, the broker connections, the executors' queues and the
configuration with secrets masked.

The report is written by the signal handler, on the main thread, which
the launcher keeps for signals alone: it needs nothing from the executor
threads, so it is written when all of them are stuck (a hung worker).
"""

import datetime
import logging
import os
import signal
import sys
import threading
import traceback

from svcframe.masking import mask_password
from svcframe.messaging import _tracking as tracking

__all__ = ["SIGNAL", "build", "forward", "install", "write"]

LOG = logging.getLogger("svcframe.launcher")

SIGNAL = signal.SIGUSR2


def forward(workers):
    """In the master: pass the signal on to every worker."""
    LOG.info("Caught SIGUSR2, asking %d workers for a report", len(workers))
    for pid in list(workers):
        try:
            os.kill(pid, SIGNAL)
        except ProcessLookupError:
            pass


def install(conf, name):
    """Write a report on SIGUSR2 in this process, from now on."""

    def handler(signum, frame):
        try:
            write(conf, name)
        except Exception:
            LOG.exception("Could not write the SIGUSR2 report")

    signal.signal(SIGNAL, handler)


def write(conf, name):
    """Write a report to the log and to a new file; return the file's path."""
    text = build(conf, name)
    directory = os.path.join(conf.state_path, "reports")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = os.path.join(directory, f"{name}-{os.getpid()}-{stamp}.txt")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    LOG.warning("Report written to %s:\n%s", path, text)
    return path


def build(conf, name):
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    sections = [
        f"svcframe report: {name}, pid {os.getpid()}, {now}",
        _section("Requests in flight", _requests()),
        _section("Broker connections", _connections()),
        _section("Executors", _executors()),
        _section("Threads", _threads()),
        _section("Configuration", _configuration(conf)),
    ]
    return "\n\n".join(sections) + "\n"


def _section(title, lines):
    bar = "=" * len(title)
    return "\n".join([bar, title, bar, *(lines or ["(none)"])])


def _requests():
    return [
        f"{r.kind} {r.topic}.{r.method} request_id={r.request_id} age={r.age():.1f}s"
        for r in tracking.in_flight()
    ]


def _connections():
    module = sys.modules.get("svcframe.messaging.drivers.kombu.connection")
    if module is None:
        return []
    lines = []
    for thread in threading.enumerate():
        if isinstance(thread, module.ConsumerThread):
            state = "connected" if thread.conn is not None else "not connected"
            lines.append(f"{thread.name}: {state} to {thread.driver.safe_url}")
    return lines


def _executors():
    lines = []
    for server in list(tracking.servers):
        executor = server._executor
        if executor is None:
            continue
        stats = server.stats()
        # Waiting: received, no thread free to start it yet (bounded by the prefetch).
        requests = f"requests: {stats['running']} running, {stats['waiting']} waiting"
        thread_counts = getattr(executor, "thread_counts", None)
        if thread_counts is None:
            lines.append(f"{server.target.topic}: {type(executor).__name__}, {requests}")
            continue
        started, limit = thread_counts()
        lines.append(f"{server.target.topic}: {started}/{limit} threads, {requests}")
    return lines


def _threads():
    frames = sys._current_frames()
    lines = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident)
        lines.append(f"Thread {thread.name} (ident {thread.ident}, daemon={thread.daemon}):")
        if frame is not None:
            lines.extend(line.rstrip("\n") for line in traceback.format_stack(frame))
        lines.append("")
    return lines


class _Lines:
    """A logger stand-in that keeps what ``log_opt_values`` writes."""

    def __init__(self):
        self.lines = []

    def log(self, level, msg, *args):
        self.lines.append(mask_password(msg % args if args else msg))

    def isEnabledFor(self, level):
        return True


def _configuration(conf):
    # oslo.config prints secret options as ****; URLs elsewhere lose their passwords.
    out = _Lines()
    conf.log_opt_values(out, logging.INFO)
    return out.lines
