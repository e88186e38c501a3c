"""What Prometheus metrics cost svcframe's RPC: the same workloads with metrics off and on.

Every run starts a fresh client and server process for each mode, in
alternating order, against one RabbitMQ; the ratio on/off of each run is
then reduced to its median.  With metrics on, both processes record every
request in prometheus_client's multiprocess files, as the workers of a
service with ``[metrics] port`` set do.

    python tools/bench/metrics_cost.py [--runs 3] [--quick] [--workloads seq,casts,conc]
"""

import argparse
import statistics
import sys
import uuid

import _common
import rpc

SHOWN = [
    ("seq_calls_per_s", "sequential calls/s"),
    ("casts_per_s", "casts/s, until consumed"),
    ("conc_calls_per_s", "8 callers calls/s"),
    ("seq_p99_ms", "sequential p99 ms"),
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--url", default=_common.DEFAULT_URL)
    ap.add_argument("--workloads", default="seq,casts,conc")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--broker-wait", type=float, default=120.0)
    args = ap.parse_args(argv)
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
