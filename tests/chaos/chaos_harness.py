"""svc-launch runs of the chaos component on a private broker, and the load the tests put on them.

Builds on the runtime suite's harness (a real ``svc-launch`` process tree,
its log read line by line) with what the chaos tests count: the casts sent
and the casts processed, the calls that failed or hung, the workers' memory.
"""

import collections
import os
import sys
import threading
import time
import uuid

import kombu

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "functional", "runtime"))

import runtime_harness  # noqa: E402
from chaos_components import processed_ids  # noqa: E402
from runtime_harness import Load, alive  # noqa: E402

__all__ = [
    "CallLoad",
    "CastLoad",
    "ChaosLaunch",
    "Load",
    "alive",
    "install_chaos_component",
    "loss_report",
    "rss_kb",
    "send_casts",
    "wait_processed",
]

COMPONENT = "chaos = tests.chaos.chaos_components:ChaosManager"


def install_chaos_component(directory):
    """A dist-info directory registering the ``chaos`` component; put ``directory`` on sys.path."""
    info = os.path.join(directory, "svcframe_chaos_test_component-1.0.dist-info")
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w") as stream:
        stream.write("Metadata-Version: 2.1\nName: svcframe-chaos-test-component\nVersion: 1.0\n")
    with open(os.path.join(info, "entry_points.txt"), "w") as stream:
        stream.write(f"[svcframe.components]\n{COMPONENT}\n")
    return directory


def rss_kb(pid):
    """Resident set size of ``pid`` in kB, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as stream:
            for line in stream:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


class ChaosLaunch(runtime_harness.Launch):
    """``svc-launch --binary chaos`` on a private broker at ``url``."""

    def __init__(self, tmp_path, components_dir, url, workers=1, **sections):
        self.record_dir = tmp_path / "processed"
        self.record_dir.mkdir(exist_ok=True)
        merged = {
            "DEFAULT": {"transport_url": url},
            "chaos": {"record_dir": self.record_dir},
        }
        for name, values in sections.items():
            merged.setdefault(name, {}).update(values)
        super().__init__(tmp_path, components_dir, binary="chaos", workers=workers, **merged)

    def wait_ready(self, timeout=60):
        """{number: pid} of the workers; {0: pid} for one process without workers."""
        if self.workers_count == 1:
            self.wait_line("Service ready", timeout)
            return {0: self.proc.pid}
        return super().wait_ready(timeout)

    def close(self):
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
            # Every run shares the topic queue 'chaos': the next run may
            # declare it with other arguments (durable, quorum).
            self._delete_queues()

    def _delete_queues(self):
        url = self.config["DEFAULT"]["transport_url"]
        first_host = url.split("://", 1)[1].split(",")[0].split("/")[0]
        try:
            with kombu.Connection(f"amqp://{first_host}//", connect_timeout=5) as conn:
                conn.connect()
                for name in (self.topic, f"{self.topic}.{self.host}"):
                    channel = conn.channel()
                    try:
                        channel.queue_delete(name)
                    except Exception:  # noqa: BLE001 - already gone
                        pass
                    finally:
                        _close_quietly(channel)
        except Exception:  # noqa: BLE001 - the broker is down: its queues go with it
            pass

    def processed(self):
        return processed_ids(self.record_dir)

    def log_line_count(self):
        with open(self.stderr_path, "rb") as stream:
            return sum(1 for _ in stream)


def _close_quietly(channel):
    try:
        channel.close()
    except Exception:  # noqa: BLE001 - closed by the broker already
        pass


class CastLoad:
    """A thread casting ``work`` with fresh ids, ``interval`` apart, until stopped."""

    def __init__(self, client, seconds=0.0, interval=0.005):
        self._cast = client.rpc.prepare()
        self._context = client.context
        self._seconds = seconds
        self._interval = interval
        self._stop = threading.Event()
        self.sent = []
        self.errors = []
        self._thread = threading.Thread(target=self._run, name="cast-load", daemon=True)

    def _run(self):
        while not self._stop.is_set():
            cast_id = uuid.uuid4().hex
            try:
                self._cast.cast(self._context, "work", cast_id=cast_id, seconds=self._seconds)
                self.sent.append(cast_id)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                self.errors.append(exc)
            self._stop.wait(self._interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self, timeout=60):
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the cast thread is stuck"


class CallLoad(Load):
    """``threads`` callers of ``echo`` back to back; a call longer than ``hung_after`` hung."""

    def __init__(self, client, threads=8, timeout=10, hung_after=None):
        self.timeout = timeout
        self.hung_after = hung_after if hung_after is not None else timeout + 15
        super().__init__(lambda: client.call("echo", timeout=timeout, value=1), threads=threads)

    def report(self):
        outcomes = self.snapshot()
        errors = collections.Counter(type(o.error).__name__ for o in outcomes if o.error)
        hung = [o for o in outcomes if o.finished - o.started > self.hung_after]
        return {
            "calls": len(outcomes),
            "ok": sum(1 for o in outcomes if o.error is None),
            "errors": dict(errors),
            "hung": len(hung),
        }

    def first_success_after(self, moment):
        """Seconds from ``moment`` to the end of the first successful call started after it."""
        ends = [o.finished for o in self.successes() if o.started >= moment]
        return min(ends) - moment if ends else None


def send_casts(client, count, seconds=0.0):
    """Cast ``count`` ``work`` requests; their ids."""
    cast = client.rpc.prepare()
    ids = [uuid.uuid4().hex for _ in range(count)]
    for cast_id in ids:
        cast.cast(client.context, "work", cast_id=cast_id, seconds=seconds)
    return ids


def loss_report(sent, processed):
    """{sent, processed, lost, duplicates} for the ids sent and the ids written down."""
    counts = collections.Counter(processed)
    sent_set = set(sent)
    return {
        "sent": len(sent),
        "processed": len(set(processed) & sent_set),
        "lost": len(sent_set - set(counts)),
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
    }


def wait_processed(launch, sent, timeout, stall=10.0):
    """The loss report once every id in ``sent`` is processed, or nothing new was
    processed for ``stall`` seconds, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    wanted = set(sent)
    last_count, last_change = -1, time.monotonic()
    while True:
        processed = launch.processed()
        now = time.monotonic()
        if wanted <= set(processed):
            return loss_report(sent, processed)
        if len(processed) != last_count:
            last_count, last_change = len(processed), now
        if now >= deadline or now - last_change >= stall:
            return loss_report(sent, processed)
        time.sleep(0.2)
