"""svcframe.messaging side of the RPC benchmark (one run: a client process and its server).

Server: ``get_rpc_server(transport, Target(topic, server), [BenchEndpoint],
executor='threading')``.  Client: one ``get_rpc_client(transport,
Target(topic))``.  The 8-caller workload runs twice: ``conc`` shares that
one client and transport across the threads (svcframe's transport is
thread-safe, so this is what a user writes), ``conc_pt`` gives each thread
its own transport (own publisher connection and reply queue).

Publisher confirms are always on in svcframe's rabbit driver (pipelined:
a publish does not wait for its ack), so the cast figures include them.

Casts are measured in both acknowledgement modes: the main server acks
them after processing (``rpc_ack_mode``'s default), a second server on
``<topic>_onr`` acks them when an executor thread starts them (``on_receipt``).
Calls are acked when started in both modes: their rows are the same.

With ``"metrics": true`` in the params both processes record Prometheus
metrics, as a service with ``[metrics] port`` set does (see metrics_cost.py).
"""

import os
import shutil
import tempfile
import threading
import time

import _common


def _transport(url):
    from oslo_config import cfg

    from svcframe import messaging

    conf = cfg.ConfigOpts()
    conf(args=[], project="svcframe_bench", default_config_files=[], default_config_dirs=[])
    return messaging.get_rpc_transport(conf, url=url)


def _maybe_enable_metrics(args):
    if not args.params.get("metrics"):
        return
    from svcframe import metrics

    directory = tempfile.mkdtemp(prefix="svcbench-metrics-")
    metrics.enable(directory)
    import atexit

    atexit.register(shutil.rmtree, directory, True)


def _reply_queue(transport):
    waiter = getattr(transport._driver, "_reply_waiter", None)
    return getattr(waiter, "queue_name", None)


def server_main(args):
    from svcframe import messaging

    _maybe_enable_metrics(args)
    profiler = _common.Profiler(args.profile_dir, "svcframe-server")
    transport = _transport(args.url)
    server_name = f"bench-{os.getpid()}"
    target = messaging.Target(topic=args.topic, server=server_name)
    stop = threading.Event()
    server = messaging.get_rpc_server(
        transport,
        target,
        [_common.BenchEndpoint(stop)],
        executor="threading",
        ack_mode="after_processing",
    )
    on_receipt = messaging.get_rpc_server(
        transport,
        messaging.Target(topic=f"{args.topic}_onr", server=server_name),
        [_common.BenchEndpoint(threading.Event())],
        executor="threading",
        ack_mode="on_receipt",
    )
    profiler.start()
    server.start()
    on_receipt.start()
    queues = [args.topic, f"{args.topic}.{server_name}"]
    queues += [f"{args.topic}_onr", f"{args.topic}_onr.{server_name}"]
    print(f"{_common.READY_MARK}pid={os.getpid()} queues={','.join(queues)}", flush=True)
    stop.wait(args.server_max_s)
    # Let the shutdown cast's own handling finish before stopping.
    time.sleep(0.05)
    for rpc_server in (server, on_receipt):
        rpc_server.stop()
        rpc_server.wait()
    profiler.stop()
    transport.cleanup()


def client_main(args):
    from svcframe import messaging

    _maybe_enable_metrics(args)
    server, ready = _common.start_server(os.path.abspath(__file__), args)
    transports = []
    queues = []
    try:
        transport = _transport(args.url)
        transports.append(transport)
        client = messaging.get_rpc_client(
            transport, messaging.Target(topic=args.topic), timeout=120
        )

        def call(method, **kw):
            return client.call({}, method, **kw)

        def cast(method, **kw):
            client.cast({}, method, **kw)

        def shared():
            return [call] * args.params["threads"], lambda: None

        def per_thread():
            own = [_transport(args.url) for _ in range(args.params["threads"])]
            calls = []
            for t in own:
                c = messaging.get_rpc_client(t, messaging.Target(topic=args.topic), timeout=120)
                calls.append(lambda method, c=c, **kw: c.call({}, method, **kw))

            def teardown():
                queues.extend(q for q in map(_reply_queue, own) if q)
                for t in own:
                    t.cleanup()

            return calls, teardown

        res = {
            "system": "svcframe",
            "svcframe": _common.version_of("svcframe"),
            "kombu": _common.version_of("kombu"),
            "amqp": _common.version_of("amqp"),
            "server_ready": ready,
            "publisher_confirms": (
                "none: a message is on disk when the publish returns (embedded driver)"
                if args.url.startswith("embedded:")
                else "on, pipelined (always, rabbit driver)"
            ),
            "metrics": bool(args.params.get("metrics")),
        }
        modes = [("conc", shared)]
        if not args.params.get("no_per_thread"):
            modes.append(("conc_pt", per_thread))
        profiler = _common.Profiler(args.profile_dir, "svcframe-client")
        profiler.start()
        _common.run_workloads(call, cast, args.params, res, modes, args.params.get("only"))
        only = args.params.get("only")
        if only is None or "casts" in only:
            onr = messaging.get_rpc_client(
                transport, messaging.Target(topic=f"{args.topic}_onr"), timeout=120
            )
            res["casts_on_receipt_per_s"] = _casts_per_s(onr, args.params["casts"])
        profiler.stop()
        cast("shutdown")
        queues.extend(q for q in map(_reply_queue, transports) if q)
        res["queues"] = queues + ready.split("queues=", 1)[1].split(",")
        _common.stop_server(server)
        for t in transports:
            t.cleanup()
        _common.emit_result(res)
    finally:
        if server.poll() is None:
            _common.stop_server(server, timeout=0)


def _casts_per_s(client, n):
    """Casts/s until consumed, as run_workloads measures them, on another client."""
    client.call({}, "reset")
    t0 = time.perf_counter()
    for _ in range(n):
        client.cast({}, "noop")
    got = client.call({}, "wait_count", n=n, timeout=300)
    elapsed = time.perf_counter() - t0
    if got != n:
        raise AssertionError(f"the server consumed {got} of {n} casts")
    return round(n / elapsed, 1)


def main():
    args = _common.parse_role_args()
    if args.role == "server":
        server_main(args)
    else:
        client_main(args)


if __name__ == "__main__":
    main()
