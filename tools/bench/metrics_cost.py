"""What Prometheus metrics cost svcframe's RPC: the same workloads with metrics off and on.

Every run starts a fresh client and server process for each mode, in
alternating order, against one RabbitMQ; the ratio on/off of each run is
then reduced to its median.  With metrics on, both processes record every
request in prometheus_client's multiprocess files, as the workers of a
service with ``[metrics] port`` set do.

    python tools/bench/metrics_cost.py [--runs 3] [--quick] [--workloads seq,casts,conc]

On a shared, loaded machine the wall-clock rates swing by more than the
cost being measured.  ``--cpu`` measures instead, in one process that
holds both client and server, casts and calls per second of the process's
CPU time, switching the recording off and on between rounds::

    python tools/bench/metrics_cost.py --cpu [--runs 6]
"""

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid

import _common
import rpc

SHOWN = [
    ("seq_calls_per_s", "sequential calls/s"),
    ("casts_per_s", "casts/s, until consumed"),
    ("conc_calls_per_s", "8 callers calls/s"),
    ("seq_p99_ms", "sequential p99 ms"),
]


class _Counting:
    def __init__(self):
        self.seen = 0
        self.expected = 0
        self.done = threading.Event()

    def ping(self, ctxt):
        self.seen += 1
        if self.seen >= self.expected:
            self.done.set()

    def echo(self, ctxt, value):
        return value


def cpu_main(args):
    from oslo_config import cfg

    from svcframe import messaging, metrics

    conf = cfg.ConfigOpts()
    conf([], project="svcframe_bench", default_config_files=[], default_config_dirs=[])
    topic = f"svcbench_{uuid.uuid4().hex[:8]}_cpu"
    directory = tempfile.mkdtemp(prefix="svcbench-metrics-")
    metrics.enable(directory)
    endpoint = _Counting()
    server_transport = messaging.get_rpc_transport(conf, url=args.url)
    target = messaging.Target(topic=topic, server="bench")
    server = messaging.get_rpc_server(server_transport, target, [endpoint])
    server.start()
    client_transport = messaging.get_rpc_transport(conf, url=args.url)
    client = messaging.get_rpc_client(client_transport, target)
    casts_n, calls_n = (400, 50) if args.quick else (4000, 500)

    def casts():
        endpoint.seen, endpoint.expected = 0, casts_n
        endpoint.done.clear()
        started = time.process_time()
        for _ in range(casts_n):
            client.cast({}, "ping")
        endpoint.done.wait(300)
        return casts_n / (time.process_time() - started)

    def calls():
        started = time.process_time()
        for _ in range(calls_n):
            client.call({}, "echo", value=1)
        return calls_n / (time.process_time() - started)

    def concurrent_calls(threads=8):
        started = time.process_time()
        workers = [threading.Thread(target=calls) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return threads * calls_n / (time.process_time() - started)

    casts(), calls()  # warm-up
    kinds = {"casts": casts, "calls": calls, "8 callers": concurrent_calls}
    figures = {mode: {kind: [] for kind in kinds} for mode in ("off", "on")}
    try:
        for i in range(args.runs):
            for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):
                metrics.flush(5)
                metrics._directory = directory if mode == "on" else None
                for kind, measure in kinds.items():
                    figures[mode][kind].append(measure())
                print(
                    f"run {i + 1}/{args.runs} metrics {mode:3s}: "
                    + ", ".join(f"{kind} {v[-1]:.0f}" for kind, v in figures[mode].items())
                    + " per CPU s",
                    flush=True,
                )
    finally:
        server.stop()
        server.wait()
        server_transport.cleanup()
        client_transport.cleanup()
        rpc.cleanup(args.url, topic, [topic, f"{topic}.bench"], [])
    print()
    print("metrics on / off, requests per CPU second (median of the runs' ratios):")
    for kind in kinds:
        ratios = [a / b for a, b in zip(figures["on"][kind], figures["off"][kind], strict=True)]
        print(
            f"  {kind:10s} {statistics.median(ratios):.3f}x ({min(ratios):.3f}-{max(ratios):.3f})"
        )
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpu", action="store_true", help="CPU cost, in one process (see above)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--url", default=_common.DEFAULT_URL)
    ap.add_argument("--workloads", default="seq,casts,conc")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--broker-wait", type=float, default=120.0)
    args = ap.parse_args(argv)
    if args.cpu:
        return cpu_main(args)
    args.profile = None
    params = {k: v[1 if args.quick else 0] for k, v in _common.SIZES.items()}
    params["only"] = [w.strip() for w in args.workloads.split(",") if w.strip()]
    params["no_per_thread"] = True
    prefix = f"svcbench_{uuid.uuid4().hex[:8]}"
    results = {"off": [], "on": []}
    queues = []
    try:
        for i in range(args.runs):
            for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):
                run_params = dict(params, metrics=mode == "on")
                topic = f"{prefix}_metrics_{mode}_{i + 1}"
                res, error = rpc._run_one("svcframe", args, run_params, topic)
                if res is None:
                    print(f"run {i + 1} metrics {mode}: FAILED: {error[-1500:]}", flush=True)
                    continue
                res["run"] = i + 1
                queues.extend(res.get("queues", []))
                results[mode].append(res)
                figures = ", ".join(
                    f"{label} {res[key]:.1f}" for key, label in SHOWN if res.get(key) is not None
                )
                print(f"run {i + 1}/{args.runs} metrics {mode:3s}: {figures}", flush=True)
    finally:
        rpc.cleanup(args.url, prefix, queues, [])
    print()
    print("metrics on / off, per run (median, min-max); a rate is better higher:")
    off = {r["run"]: r for r in results["off"]}
    for key, label in SHOWN:
        ratios = [
            r[key] / off[r["run"]][key]
            for r in results["on"]
            if r["run"] in off and r.get(key) and off[r["run"]].get(key)
        ]
        if ratios:
            print(
                f"  {label:26s} {statistics.median(ratios):.3f}x "
                f"({min(ratios):.3f}-{max(ratios):.3f})"
            )
    return 0 if len(results["on"]) == len(results["off"]) == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
