"""Launcher figures: time to READY=1, respawn time, memory per process.

    python tools/bench/launcher.py [--workers 4] [--runs 5]

Runs a no-op service under ProcessLauncher in a child process, listening
on a NOTIFY_SOCKET of its own, and prints medians over the runs:

- exec to READY=1: from just before the exec to the master's READY=1,
  which it sends once every worker's start() returned;
- respawn: from kill -9 of a worker to the master's "N/N workers ready"
  status with its replacement ready (respawn_backoff_initial is 0 here);
- RSS (VmRSS from /proc) of the master and of each worker, once ready,
  and each worker's private memory (USS): RSS counts pages still shared
  with the master since the fork.
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def serve(workers):
    from oslo_config import cfg

    from svcframe import log
    from svcframe.conf import service as service_opts
    from svcframe.launcher import ServiceBase, launch

    class Idle(ServiceBase):
        binary = "bench"

        def start(self):
            self._stopped = threading.Event()

        def stop(self):
            self._stopped.set()

        def wait(self):
            self._stopped.wait()

        def reset(self):
            pass

    conf = cfg.ConfigOpts()
    log.register_options(conf)
    conf([])
    service_opts.register_opts(conf)
    conf.set_override("respawn_backoff_initial", 0, group="launcher")
    log.setup(conf, "svcframe-bench")
    return launch(conf, Idle(), workers=workers).wait()


class Notifications:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)

    def wait_for(self, line, timeout=30):
        self.sock.settimeout(timeout)
        while True:
            message = self.sock.recv(4096).decode()
            if line in message.splitlines():
                return time.perf_counter()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def private_kib(pid):
    """Memory only this process uses (USS): what each extra worker costs."""
    total = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def one_run(workers, tmp):
    path = os.path.join(tmp, f"notify-{time.monotonic_ns()}")
    notifications = Notifications(path)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = notifications.wait_for("READY=1") - started
        pids = children(proc.pid)
        master_rss = rss_kib(proc.pid)
        worker_rss = [rss_kib(pid) for pid in pids]
        worker_private = [private_kib(pid) for pid in pids]
        killed = time.perf_counter()
        os.kill(pids[0], signal.SIGKILL)
        notifications.wait_for(f"STATUS={workers - 1}/{workers} workers ready")
        respawn = notifications.wait_for(f"STATUS={workers}/{workers} workers ready") - killed
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notifications.sock.close()
    return ready, respawn, master_rss, worker_rss, worker_private


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one_run(args.workers, tmp) for _ in range(args.runs)]
    ready = statistics.median(r[0] for r in runs)
    respawn = statistics.median(r[1] for r in runs)
    master = statistics.median(r[2] for r in runs)
    worker = statistics.median(kib for r in runs for kib in r[3])
    private = statistics.median(kib for r in runs for kib in r[4])
    print(f"workers: {args.workers}, runs: {args.runs} (medians)")
    print(f"exec to READY=1:       {ready * 1000:8.1f} ms")
    print(f"worker respawn:        {respawn * 1000:8.1f} ms (kill -9 to replacement ready)")
    print(f"master RSS:            {master / 1024:8.1f} MiB")
    print(f"worker RSS:            {worker / 1024:8.1f} MiB each")
    print(f"worker private memory: {private / 1024:8.1f} MiB each (not shared with the master)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
