"""RPC benchmark: svcframe.messaging against oslo.messaging and plain kombu, side by side.

Runs the same workloads on the three systems against one RabbitMQ in one
invocation, interleaving the systems within every run, and prints each
figure (median of the runs, with spread) and the ratios svcframe/oslo and
svcframe/floor.  Every run of every system uses a fresh client process and
a fresh server process.  See tools/bench/README.md for how to read it.

    python tools/bench/rpc.py [--runs 3] [--quick] [--only svcframe,oslo,kombu]
                              [--url rabbit://guest:guest@127.0.0.1:5672/] [--json PATH]
"""

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _common  # noqa: E402

from svcframe.conf.paths import default_state_path  # noqa: E402
from svcframe.messaging.drivers.embedded import location  # noqa: E402

SYSTEMS = {
    "svcframe": "svcframe_rpc.py",
    "oslo": "oslo_rpc.py",
    "kombu": "kombu_floor.py",
    # The same svcframe code on the embedded transport (no broker), in a
    # fresh data directory per run.
    "embedded": "svcframe_rpc.py",
}
LABELS = {
    "svcframe": "svcframe",
    "oslo": "oslo.messaging",
    "kombu": "kombu floor",
    "embedded": "svcframe embedded",
}
WORKLOADS = ("seq", "casts", "conc", "echo")

# key, label, unit; a rate is better higher, a latency lower.
METRICS = [
    ("seq_calls_per_s", "sequential calls, 16 B", "calls/s"),
    ("seq_p50_ms", "  p50", "ms"),
    ("seq_p99_ms", "  p99", "ms"),
    ("casts_per_s", "{casts} casts, until consumed", "casts/s"),
    ("cast_publish_per_s", "  client publish rate alone", "casts/s"),
    ("casts_on_receipt_per_s", "  svcframe casts acked on receipt", "casts/s"),
    ("conc_calls_per_s", "{threads} callers (svcframe: shared client)", "calls/s"),
    ("conc_p50_ms", "  p50", "ms"),
    ("conc_p99_ms", "  p99", "ms"),
    ("conc_pt_calls_per_s", "{threads} callers, a transport per thread", "calls/s"),
    ("conc_pt_p50_ms", "  p50", "ms"),
    ("conc_pt_p99_ms", "  p99", "ms"),
    ("echo_1k_calls_per_s", "echo 1 KB", "calls/s"),
    ("echo_1k_p50_ms", "  p50", "ms"),
    ("echo_1k_p99_ms", "  p99", "ms"),
    ("echo_64k_calls_per_s", "echo 64 KB", "calls/s"),
    ("echo_64k_p50_ms", "  p50", "ms"),
    ("echo_64k_p99_ms", "  p99", "ms"),
]
# svcframe's per-thread-transport figures are compared with the others' 8-caller ones.
COMPARE_WITH = {k: k.replace("conc_pt_", "conc_") for k, *_ in METRICS if k.startswith("conc_pt")}

# (label, svcframe metric, oslo metric, kind, threshold) from the design's targets.
TARGETS = [
    ("sequential calls >= 1.5x oslo", "seq_calls_per_s", "seq_calls_per_s", "ratio", 1.5),
    ("8 callers >= 1.5x oslo", "conc_calls_per_s", "conc_calls_per_s", "ratio", 1.5),
    ("casts >= 2x oslo", "casts_per_s", "casts_per_s", "ratio", 2.0),
    ("sequential p99 below oslo's", "seq_p99_ms", "seq_p99_ms", "below", None),
    ("8-caller p99 below oslo's", "conc_p99_ms", "conc_p99_ms", "below", None),
]
# The embedded transport against svcframe on RabbitMQ, measured in the same run.
EMBEDDED_TARGETS = [
    ("embedded sequential calls >= 1.0x svcframe on RabbitMQ", "seq_calls_per_s", "ratio", 1.0),
    ("embedded casts >= 1.0x svcframe on RabbitMQ", "casts_per_s", "ratio", 1.0),
    ("embedded 8 callers >= 1.0x svcframe on RabbitMQ", "conc_calls_per_s", "ratio", 1.0),
    ("embedded sequential p50 below 1 ms", "seq_p50_ms", "below_ms", 1.0),
]


def _default_embedded_dir():
    return os.path.dirname(location.default_data_dir(default_state_path()))


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--url", default=_common.DEFAULT_URL, help="transport URL (default %(default)s)"
    )
    ap.add_argument("--runs", type=int, default=3, help="runs per system (default %(default)s)")
    ap.add_argument("--quick", action="store_true", help="fewer messages: a smoke run")
    ap.add_argument(
        "--only",
        default=",".join(SYSTEMS),
        help="comma-separated systems to run, of: %(default)s",
    )
    ap.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help="comma-separated workloads to run, of: %(default)s",
    )
    ap.add_argument(
        "--no-per-thread",
        action="store_true",
        help="skip svcframe's 8 callers with a transport per thread",
    )
    ap.add_argument("--json", metavar="PATH", help="also write every run and the summary here")
    ap.add_argument(
        "--profile",
        metavar="DIR",
        help="profile svcframe's client and server processes with yappi (CPU clock), "
        "one .pstats file per process in DIR; the figures are then not comparable",
    )
    ap.add_argument("--timeout", type=float, default=900.0, help="limit for one run of one system")
    ap.add_argument(
        "--retries",
        type=int,
        default=1,
        help="run a failed run again this many times (a broker restarted under it)",
    )
    ap.add_argument(
        "--embedded-dir",
        default=_default_embedded_dir(),
        help="where the embedded transport's data directories are made (default "
        "%(default)s, beside the default data_dir; a directory on disk measures a "
        "data_dir set there)",
    )
    ap.add_argument(
        "--broker-wait",
        type=float,
        default=120.0,
        help="before each run, wait this long for the broker to accept connections",
    )
    args = ap.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in args.only if s not in SYSTEMS]
    if unknown or not args.only:
        ap.error(f"--only: unknown system(s) {unknown}; choose from {', '.join(SYSTEMS)}")
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if any(w not in WORKLOADS for w in args.workloads):
        ap.error(f"--workloads: choose from {', '.join(WORKLOADS)}")
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    return args


def _params(args):
    params = {k: v[1 if args.quick else 0] for k, v in _common.SIZES.items()}
    if args.workloads != list(WORKLOADS):
        params["only"] = args.workloads
    if args.no_per_thread:
        params["no_per_thread"] = True
    return params


def wait_for_broker(url, timeout):
    """True once the broker's port accepts connections (others may be restarting it)."""
    parts = urllib.parse.urlsplit(_common.kombu_url(url).split(";")[0])
    address = (parts.hostname or "127.0.0.1", parts.port or 5672)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(address, timeout=2).close()
            return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(1)


def _run_one(system, args, params, topic):
    if not wait_for_broker(args.url, args.broker_wait):
        return None, f"the broker did not accept connections within {args.broker_wait} s"
    url = args.url
    if system == "embedded":
        base = args.embedded_dir
        os.makedirs(base, mode=0o700, exist_ok=True)
        url = "embedded://" + tempfile.mkdtemp(prefix="svcframe-bench-", dir=base)
    cmd = [
        sys.executable,
        os.path.join(HERE, SYSTEMS[system]),
        "--role",
        "client",
        "--url",
        url,
        "--topic",
        topic,
        "--params",
        json.dumps(params),
    ]
    if args.profile and system == "svcframe":
        cmd += ["--profile-dir", os.path.abspath(args.profile)]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired as exc:
        return None, f"timed out after {exc.timeout} s"
    res = None
    for line in proc.stdout.splitlines():
        if line.startswith(_common.RESULT_MARK):
            res = json.loads(line[len(_common.RESULT_MARK) :])
    if proc.returncode != 0 or res is None:
        return None, f"rc={proc.returncode}\n{proc.stdout[-2000:]}{proc.stderr[-6000:]}"
    res["wall_s"] = round(time.monotonic() - t0, 2)
    if system == "embedded":
        shutil.rmtree(url[len("embedded://") :], ignore_errors=True)
    return res, None


def _progress(system, i, runs, res):
    parts = []
    for key, fmt in (
        ("seq_calls_per_s", "seq %.0f/s"),
        ("seq_p99_ms", "p99 %.2f ms"),
        ("casts_per_s", "casts %.0f/s"),
        ("conc_calls_per_s", "8 callers %.0f/s"),
        ("conc_pt_calls_per_s", "per-thread %.0f/s"),
        ("echo_1k_calls_per_s", "1KB %.0f/s"),
        ("echo_64k_calls_per_s", "64KB %.0f/s"),
    ):
        if res.get(key) is not None:
            parts.append(fmt % res[key])
    print(f"run {i + 1}/{runs} {system:9s} {', '.join(parts)} ({res['wall_s']} s)", flush=True)


def aggregate(runs):
    out = {}
    for key, *_ in METRICS:
        vals = [r[key] for r in runs if r.get(key) is not None]
        if not vals:
            continue
        med = statistics.median(vals)
        out[key] = {
            "median": round(med, 3),
            "min": round(min(vals), 3),
            "max": round(max(vals), 3),
            "spread_pct": round((max(vals) - min(vals)) / med * 100.0, 1) if med else None,
            "values": vals,
        }
    return out


def ratios(summary):
    """svcframe/oslo and svcframe/kombu for every metric both have (ratio of medians)."""
    mine = summary.get("svcframe", {})
    out = {}
    for other in ("oslo", "kombu"):
        theirs = summary.get(other, {})
        r = {}
        for key, value in mine.items():
            ref = theirs.get(COMPARE_WITH.get(key, key))
            if ref and ref["median"]:
                r[key] = round(value["median"] / ref["median"], 3)
        out[f"svcframe/{other}"] = r
    return out


def paired_ratios(results):
    """Per-metric median of the per-run ratios svcframe/other.

    Runs of the same index ran next to each other, so on a machine whose
    load drifts these are steadier than the ratio of the medians.
    """
    mine = results.get("svcframe", [])
    out = {}
    for other in ("oslo", "kombu"):
        theirs = {r["run"]: r for r in results.get(other, [])}
        r = {}
        for key, *_ in METRICS:
            ref_key = COMPARE_WITH.get(key, key)
            vals = [
                m[key] / theirs[m["run"]][ref_key]
                for m in mine
                if m["run"] in theirs and m.get(key) and theirs[m["run"]].get(ref_key)
            ]
            if vals:
                r[key] = {
                    "median": round(statistics.median(vals), 3),
                    "min": round(min(vals), 3),
                    "max": round(max(vals), 3),
                }
        out[f"svcframe/{other}"] = r
    return out


PAIRED_SHOWN = [
    ("seq_calls_per_s", "sequential calls/s"),
    ("seq_p99_ms", "sequential p99"),
    ("casts_per_s", "casts/s"),
    ("conc_calls_per_s", "8 callers calls/s"),
    ("conc_p99_ms", "8 callers p99"),
    ("echo_1k_calls_per_s", "1 KB calls/s"),
    ("echo_64k_calls_per_s", "64 KB calls/s"),
]


def print_paired(paired):
    rows = []
    for key, label in PAIRED_SHOWN:
        cells = []
        for other in ("oslo", "kombu"):
            r = paired.get(f"svcframe/{other}", {}).get(key)
            cells.append(f"{r['median']:.2f}x ({r['min']:.2f}-{r['max']:.2f})" if r else "-")
        if any(c != "-" for c in cells):
            rows.append(f"  {label:22s}{cells[0]:>22s}{cells[1]:>22s}")
    if rows:
        print()
        print("per-run ratios (svcframe run i / other run i): median (min-max)")
        print(f"  {'':22s}{'sf/oslo':>22s}{'sf/floor':>22s}")
        print("\n".join(rows))


# (label, svcframe metric, reference system, its metric, threshold): delivery modes and the floor.
SAME_RUN_TARGETS = [
    (
        "after_processing casts >= 0.85x on_receipt",
        "casts_per_s",
        "svcframe",
        "casts_on_receipt_per_s",
        0.85,
    ),
    ("sequential calls >= 0.9x kombu floor", "seq_calls_per_s", "kombu", "seq_calls_per_s", 0.9),
    ("8 callers >= 0.9x kombu floor", "conc_calls_per_s", "kombu", "conc_calls_per_s", 0.9),
    ("casts >= 0.9x kombu floor", "casts_per_s", "kombu", "casts_per_s", 0.9),
]


def targets(summary):
    mine, oslo = summary.get("svcframe", {}), summary.get("oslo", {})
    out = []
    embedded = summary.get("embedded", {})
    for label, key, kind, threshold in EMBEDDED_TARGETS:
        if key not in embedded or (kind == "ratio" and key not in mine):
            continue
        a = embedded[key]["median"]
        if kind == "ratio":
            b = mine[key]["median"]
            value = a / b if b else float("nan")
            out.append(
                {
                    "target": label,
                    "met": value >= threshold,
                    "detail": f"{value:.2f}x ({a:.0f} vs {b:.0f})",
                }
            )
        else:
            out.append({"target": label, "met": a < threshold, "detail": f"{a:.2f} ms"})
    for label, key, system, ref_key, threshold in SAME_RUN_TARGETS:
        ref = summary.get(system, {})
        if key not in mine or ref_key not in ref:
            continue
        a, b = mine[key]["median"], ref[ref_key]["median"]
        value = a / b if b else float("nan")
        out.append(
            {
                "target": label,
                "met": value >= threshold,
                "detail": f"{value:.2f}x ({a:.0f} vs {b:.0f})",
            }
        )
    for label, key, ref_key, kind, threshold in TARGETS:
        if key not in mine or ref_key not in oslo:
            continue
        a, b = mine[key]["median"], oslo[ref_key]["median"]
        if kind == "ratio":
            value = a / b if b else float("nan")
            met = value >= threshold
            detail = f"{value:.2f}x ({a:.0f} vs {b:.0f})"
        else:
            met = a < b
            detail = f"{a:.2f} ms vs {b:.2f} ms"
        out.append({"target": label, "met": met, "detail": detail})
    return out


def _cell(agg, unit):
    if agg is None:
        return "-"
    fmt = "%.2f" if unit == "ms" else "%.0f"
    spread = agg["spread_pct"]
    text = fmt % agg["median"]
    if spread is not None and len(agg["values"]) > 1:
        text += f" ±{spread / 2:.0f}%"
    return text


def print_table(summary, rat, systems, params, runs):
    cols = [s for s in SYSTEMS if s in systems]
    width = 16
    head = f"{'metric':44s}" + "".join(f"{LABELS[s]:>{width}s}" for s in cols)
    show_ratios = "svcframe" in cols
    if show_ratios:
        head += f"{'sf/oslo':>10s}{'sf/floor':>10s}"
    print()
    print(f"median of {runs} run(s); ±x% = half the min-max range, relative to the median")
    print(head)
    print("-" * len(head))
    for key, label, unit in METRICS:
        if not any(key in summary.get(s, {}) for s in cols):
            continue
        label = label.format(casts=params["casts"], threads=params["threads"])
        line = f"{label + ' [' + unit + ']':44s}"
        line += "".join(f"{_cell(summary.get(s, {}).get(key), unit):>{width}s}" for s in cols)
        if show_ratios:
            for other in ("oslo", "kombu"):
                r = rat.get(f"svcframe/{other}", {}).get(key)
                line += f"{(f'{r:.2f}x' if r is not None else '-'):>10s}"
        print(line)


def _env():
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        info["loadavg"] = os.getloadavg()
    except OSError:
        pass
    for dist in ("svcframe", "oslo.messaging", "kombu", "amqp"):
        info[dist] = _common.version_of(dist)
    return info


def cleanup(url, prefix, queues, exchanges):
    """Delete the queues and exchanges this invocation left on the broker; returns the count."""
    names = set(queues)
    # A run that failed half-way cannot report its queues: find them by name.
    ctl = shutil.which("rabbitmqctl")
    if ctl:
        try:
            out = subprocess.run(
                [ctl, "-q", "list_queues", "name"], capture_output=True, text=True, timeout=60
            ).stdout
            names.update(n.strip() for n in out.splitlines() if n.strip().startswith(prefix))
        except (OSError, subprocess.SubprocessError):
            pass
    import kombu

    deleted = 0
    with kombu.Connection(_common.kombu_url(url)) as conn:
        channel = conn.channel()
        for kind, items in (("queue", sorted(names)), ("exchange", sorted(set(exchanges)))):
            for name in items:
                try:
                    if kind == "queue":
                        channel.queue_delete(name)
                    else:
                        channel.exchange_delete(name)
                    deleted += 1
                except Exception:  # noqa: BLE001 - already gone, or in use by someone else
                    channel = conn.channel()
    return deleted


def main(argv=None):
    args = parse_args(argv)
    params = _params(args)
    systems = args.only
    prefix = f"svcbench_{uuid.uuid4().hex[:8]}"
    env_start = _env()
    print(
        f"RPC benchmark: {', '.join(LABELS[s] for s in systems)}; {args.runs} run(s)"
        f"{' (quick)' if args.quick else ''}; {_common.kombu_url(args.url).split('@')[-1]}; "
        f"load average {env_start.get('loadavg')}",
        flush=True,
    )
    if "embedded" in systems:
        print(f"embedded data directories under {args.embedded_dir}", flush=True)
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    results = {s: [] for s in systems}
    errors = []
    queues, exchanges = [], []
    try:
        for i in range(args.runs):
            # Rotate the order every run so that drift does not favour one system.
            order = systems[i % len(systems) :] + systems[: i % len(systems)]
            for system in order:
                for attempt in range(1 + args.retries):
                    topic = f"{prefix}_{system}_{i + 1}" + (f"_{attempt}" if attempt else "")
                    res, error = _run_one(system, args, params, topic)
                    if res is not None:
                        break
                    errors.append({"system": system, "run": i + 1, "error": error})
                    print(
                        f"run {i + 1}/{args.runs} {system:9s} FAILED: {error[-1500:]}", flush=True
                    )
                if res is None:
                    continue
                res["run"] = i + 1
                queues.extend(res.get("queues", []))
                exchanges.extend(res.get("exchanges", []))
                results[system].append(res)
                _progress(system, i, args.runs, res)
    finally:
        try:
            n = cleanup(args.url, prefix, queues, exchanges)
            print(f"deleted {n} benchmark queue(s)/exchange(s) from the broker")
        except Exception as exc:  # noqa: BLE001 - report, do not hide the results
            print(f"could not clean up the broker: {exc}")

    summary = {s: aggregate(r) for s, r in results.items() if r}
    rat = ratios(summary)
    print_table(summary, rat, systems, params, args.runs)
    paired = paired_ratios(results)
    print_paired(paired)
    tgt = targets(summary)
    if tgt:
        print()
        print("design targets (a reading, not a gate):")
        for t in tgt:
            print(f"  {'met    ' if t['met'] else 'NOT met'}  {t['target']}: {t['detail']}")
    notes = {s: results[s][0].get("publisher_confirms") for s in systems if results[s]}
    if notes:
        print()
        print("publisher confirms: " + "; ".join(f"{LABELS[s]}: {n}" for s, n in notes.items()))
    env = dict(env_start, loadavg_at_end=_env().get("loadavg"))
    env["loadavg_at_start"] = env.pop("loadavg", None)
    if args.json:
        doc = {
            "env": env,
            "url": _common.kombu_url(args.url).split("@")[-1],
            "runs": args.runs,
            "quick": args.quick,
            "params": params,
            "summary": summary,
            "ratios": rat,
            "paired_ratios": paired,
            "targets": tgt,
            "errors": errors,
            "results": results,
        }
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
        print(f"saved {args.json}")
    if errors:
        print(f"{len(errors)} attempt(s) failed; see above")
    missing = [s for s in systems if len(results[s]) < args.runs]
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
