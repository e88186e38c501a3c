"""What the RPC benchmark's per-system modules share: workloads, stats, process plumbing.

Every system module (``svcframe_rpc``, ``oslo_rpc``, ``kombu_floor``) runs as
two processes per run: a *client* process, started by ``rpc.py``, which in
turn starts its own *server* process.  Both roles are selected with
``--role``; the client prints one ``RESULT-JSON`` line as its last output.
Only the standard library is imported here, so that importing this module
never selects a concurrency backend for the frameworks under test.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

DEFAULT_URL = "rabbit://guest:guest@127.0.0.1:5672/"
RESULT_MARK = "RESULT-JSON "
READY_MARK = "READY "
SMALL = "x" * 16

# Workload sizes: (full, --quick).
SIZES = {
    "warmup": (200, 20),
    "calls": (2000, 200),
    "casts": (20000, 2000),
    "threads": (8, 8),
    "duration": (5.0, 1.0),
    "calls_1k": (1000, 100),
    "calls_64k": (500, 50),
}


def kombu_url(url):
    """oslo.messaging's ``rabbit://`` URL as kombu wants it (``amqp://``)."""
    if url.startswith("rabbit://"):
        return "amqp://" + url[len("rabbit://") :]
    return url


def percentile(data, p):
    """Nearest-rank percentile, ``p`` in [0, 100] (as the reference scripts)."""
    if not data:
        return float("nan")
    s = sorted(data)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def lat_summary(lat_s, elapsed_s):
    """Rate and latency figures from per-call latencies in seconds."""
    ms = [x * 1000.0 for x in lat_s]
    return {
        "n": len(lat_s),
        "elapsed_s": round(elapsed_s, 4),
        "per_s": round(len(lat_s) / elapsed_s, 1) if elapsed_s else None,
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3) if ms else None,
    }


def version_of(dist):
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return None


# -- the server's behaviour, identical for every framework ----------------


class BenchEndpoint:
    """echo / noop / reset / wait_count / shutdown, as in the reference oslo_bench.py."""

    def __init__(self, stop_event):
        self._cond = threading.Condition(threading.Lock())
        self.count = 0
        self.stop_event = stop_event

    def echo(self, ctxt, x):
        return x

    def noop(self, ctxt):
        with self._cond:
            self.count += 1
            self._cond.notify_all()

    def reset(self, ctxt):
        with self._cond:
            self.count = 0
        return 0

    def wait_count(self, ctxt, n, timeout):
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.count < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 1.0))
            return self.count

    def shutdown(self, ctxt):
        self.stop_event.set()


# -- process plumbing ------------------------------------------------------


def parse_role_args(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=["client", "server"], required=True)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--params", default="{}", help="workload sizes as JSON")
    ap.add_argument("--profile-dir", default=None, help="write cProfile stats here")
    ap.add_argument("--server-max-s", type=float, default=900.0)
    args = ap.parse_args(argv)
    args.params = json.loads(args.params)
    return args


def start_server(script, args, extra=()):
    """Start ``script`` as the server of this run; returns (Popen, READY line)."""
    cmd = [sys.executable, script, "--role", "server", "--url", args.url, "--topic", args.topic]
    cmd += ["--params", json.dumps(args.params)]
    if args.profile_dir:
        cmd += ["--profile-dir", args.profile_dir]
    cmd += list(extra)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = _wait_for_line(proc, READY_MARK, 60)
    return proc, line.strip()


def _wait_for_line(proc, marker, timeout):
    # readline() blocks, so read in a thread and give up after ``timeout``.
    found = []
    seen = []

    def reader():
        for line in proc.stdout:
            seen.append(line)
            if line.startswith(marker):
                found.append(line)
                return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t.join(timeout)
    if not found:
        err = ""
        if proc.poll() is not None:
            err = proc.stderr.read()[-4000:]
        raise RuntimeError(
            f"server did not print {marker!r} within {timeout} s; output: {''.join(seen)}{err}"
        )
    return found[0]


def stop_server(proc, timeout=30):
    """Wait for the server to exit after its shutdown cast; end it (by its PID) if it does not."""
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def emit_result(obj):
    sys.stdout.write(RESULT_MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


class Profiler:
    """yappi (CPU clock, every thread) for one process, saved as pstats; off without a directory."""

    def __init__(self, directory, name):
        self.path = os.path.join(directory, f"{name}-{os.getpid()}.pstats") if directory else None
        self._yappi = None

    def start(self):
        if self.path is None:
            return
        import yappi

        yappi.set_clock_type("cpu")
        yappi.start(builtins=True)
        self._yappi = yappi

    def stop(self):
        if self._yappi is None:
            return
        self._yappi.stop()
        self._yappi.get_func_stats().save(self.path, type="pstat")


# -- the client's workloads -------------------------------------------------


def _timed_calls(call, n, payload):
    lat = []
    t0 = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        r = call("echo", x=payload)
        lat.append(time.perf_counter() - t)
        if len(r) != len(payload):
            raise AssertionError(f"echo returned {len(r)} characters, sent {len(payload)}")
    return lat, time.perf_counter() - t0


def concurrent_calls(calls, duration):
    """Run ``calls[i]('echo', x=...)`` in one thread each for ``duration`` s: latency summary."""
    n = len(calls)
    lats = [[] for _ in range(n)]
    errors = []
    start = threading.Event()

    def worker(i):
        call = calls[i]
        start.wait()
        deadline = time.perf_counter() + duration
        try:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                call("echo", x=SMALL)
                lats[i].append(time.perf_counter() - t)
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    start.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(errors[:3])
    s = lat_summary([x for li in lats for x in li], elapsed)
    s["threads"] = n
    s["per_thread_calls"] = [len(li) for li in lats]
    return s


def run_workloads(call, cast, params, res, concurrent_modes, only=None):
    """The benchmark proper, on one client; results go into ``res``.

    ``call(method, **kw)`` and ``cast(method, **kw)`` are the system's
    client.  ``concurrent_modes`` is a list of ``(prefix, setup)``;
    ``setup()`` returns ``(calls, teardown)``: one callable per thread
    and what to run afterwards.  ``only`` limits the workloads run
    (names: seq, casts, conc, echo).
    """

    def wanted(name):
        return only is None or name in only

    for _ in range(params["warmup"]):
        call("echo", x=SMALL)
    call("reset")

    if wanted("seq"):
        lat, el = _timed_calls(call, params["calls"], SMALL)
        s = lat_summary(lat, el)
        res.update(seq_calls_per_s=s["per_s"], seq_p50_ms=s["p50_ms"], seq_p99_ms=s["p99_ms"])
        res["seq"] = s

    if wanted("casts"):
        n = params["casts"]
        call("reset")
        t0 = time.perf_counter()
        for _ in range(n):
            cast("noop")
        t_pub = time.perf_counter() - t0
        got = call("wait_count", n=n, timeout=300)
        t_all = time.perf_counter() - t0
        if got != n:
            raise AssertionError(f"the server consumed {got} of {n} casts")
        res.update(
            casts_per_s=round(n / t_all, 1),
            cast_publish_per_s=round(n / t_pub, 1),
            casts={"n": n, "publish_s": round(t_pub, 3), "all_consumed_s": round(t_all, 3)},
        )

    if wanted("conc"):
        for prefix, setup in concurrent_modes:
            calls, teardown = setup()
            try:
                for c in calls:
                    for _ in range(20):
                        c("echo", x=SMALL)
                s = concurrent_calls(calls, params["duration"])
            finally:
                teardown()
            res[f"{prefix}_calls_per_s"] = s["per_s"]
            res[f"{prefix}_p50_ms"] = s["p50_ms"]
            res[f"{prefix}_p99_ms"] = s["p99_ms"]
            res[prefix] = s

    if wanted("echo"):
        for key, size, n in (("1k", 1024, params["calls_1k"]), ("64k", 65536, params["calls_64k"])):
            payload = "x" * size
            for _ in range(20):
                call("echo", x=payload)
            lat, el = _timed_calls(call, n, payload)
            s = lat_summary(lat, el)
            res[f"echo_{key}_calls_per_s"] = s["per_s"]
            res[f"echo_{key}_p50_ms"] = s["p50_ms"]
            res[f"echo_{key}_p99_ms"] = s["p99_ms"]
            res[f"echo_{key}"] = s
    return res
