"""The embedded transport alone: backlog drain rates and the idle CPU of a conductor.

    python tools/bench/embedded.py [--backlogs 10000,100000] [--idle-seconds 30]

Backlog: N casts are published while no server runs, then one server
(threading executor) drains them; a linear drain shows the same rate for
10,000 and 100,000.  Idle: ``svc-launch --binary conductor --workers 2`` on
the embedded transport, CPU time of the master and its workers over the
given seconds, as a percentage of one core.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from oslo_config import cfg

from svcframe import messaging
from svcframe.conf.paths import default_state_path
from svcframe.messaging.drivers.embedded import location


class _Counter:
    def __init__(self):
        self.n = 0
        self.done = threading.Event()
        self.want = 0

    def noop(self, ctxt):
        self.n += 1
        if self.n >= self.want:
            self.done.set()


def _transport(data_dir):
    conf = cfg.ConfigOpts()
    conf(args=[], project="svcframe-bench", default_config_files=[], default_config_dirs=[])
    return messaging.get_rpc_transport(conf, "embedded://" + data_dir)


def backlog(n, base):
    data_dir = tempfile.mkdtemp(prefix="svcframe-backlog-", dir=base)
    try:
        transport = _transport(data_dir)
        topic = "backlog"
        counter = _Counter()
        counter.want = n
        server = messaging.get_rpc_server(
            transport, messaging.Target(topic=topic, server="s1"), [counter], executor="threading"
        )
        server.start()  # declares the queues; stopped at once so the casts wait
        server.stop()
        server.wait()
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
        t0 = time.perf_counter()
        for _ in range(n):
            client.cast({}, "noop")
        publish_s = time.perf_counter() - t0
        server = messaging.get_rpc_server(
            transport, messaging.Target(topic=topic, server="s1"), [counter], executor="threading"
        )
        t0 = time.perf_counter()
        server.start()
        counter.done.wait(3600)
        drain_s = time.perf_counter() - t0
        server.stop()
        server.wait()
        transport.cleanup()
        return n / publish_s, n / drain_s
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def _family(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [pid] + [int(p) for p in out.stdout.split()]


def idle_cpu(seconds):
    # With the default data_dir, as a user's first conductor runs.
    state = tempfile.mkdtemp(prefix="svcframe-idle-", dir=os.path.dirname(default_state_path()))
    config = os.path.join(state, "svc.conf")
    with open(config, "w") as f:
        f.write(f"[DEFAULT]\nstate_path = {state}/state\n")
    launch = os.path.join(os.path.dirname(sys.executable), "svc-launch")
    proc = subprocess.Popen(
        [launch, "--binary", "conductor", "--workers", "2", "--config-file", config],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(10)  # boot, first heartbeats
        pids = _family(proc.pid)
        hz = os.sysconf("SC_CLK_TCK")
        before = _cpu_ticks(pids)
        time.sleep(seconds)
        used = (_cpu_ticks(pids) - before) / hz
        return len(pids), 100.0 * used / seconds
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(location.default_data_dir(f"{state}/state"), ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backlogs", default="10000,100000")
    ap.add_argument("--idle-seconds", type=float, default=30.0)
    ap.add_argument(
        "--embedded-dir",
        default=os.path.dirname(location.default_data_dir(default_state_path())),
        help="where the backlogs' data directories are made (default %(default)s, "
        "beside the default data_dir)",
    )
    args = ap.parse_args()
    base = args.embedded_dir
    os.makedirs(base, mode=0o700, exist_ok=True)
    os.makedirs(os.path.dirname(default_state_path()), exist_ok=True)
    print(f"backlog data directories under {base}")
    for n in [int(x) for x in args.backlogs.split(",") if x]:
        publish, drain = backlog(n, base)
        print(f"backlog {n:>7}: published {publish:8.0f} casts/s, drained {drain:8.0f} casts/s")
    if args.idle_seconds:
        procs, pct = idle_cpu(args.idle_seconds)
        print(
            f"idle conductor, 2 workers ({procs} processes): {pct:.3f}% of a core "
            f"over {args.idle_seconds:.0f} s"
        )


if __name__ == "__main__":
    main()
