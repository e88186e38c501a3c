"""oslo.messaging side of the RPC benchmark (one run: a client process and its server).

Always its own processes: importing oslo.messaging pulls in oslo.service and
futurist, which select eventlet-related backends at import time.  Server:
the threading executor.  Client: one RPCClient, shared by the 8 caller
threads, as in the reference measurements.

oslo.messaging's rabbit driver always opens its connections with kombu's
``confirm_publish=True``: every publish (cast, call or reply) waits for the
broker's ``basic.ack`` before returning.
"""

import os
import threading
import warnings

import _common

warnings.simplefilter("ignore")


def _transport(url):
    import importlib

    import oslo_messaging as om
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf(args=[], project="oslo_bench", default_config_files=[], default_config_dirs=[])
    # oslo.messaging 18.3 registers [oslo_messaging_metrics] and
    # [oslo_messaging_tracing] on the global cfg.CONF only, but reads them from
    # the transport's conf: a private ConfigOpts needs them registered too.
    for modname, optsname in (
        ("oslo_messaging._metrics.client", "oslo_messaging_metrics"),
        ("oslo_messaging._tracing.client", "oslo_messaging_tracing"),
    ):
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        conf.register_opts(getattr(mod, optsname), group=optsname)
    return om.get_rpc_transport(conf, url=url)


def server_main(args):
    import oslo_messaging as om

    transport = _transport(args.url)
    server_name = f"bench-{os.getpid()}"
    target = om.Target(topic=args.topic, server=server_name)
    stop = threading.Event()
    server = om.get_rpc_server(
        transport, target, [_common.BenchEndpoint(stop)], executor="threading"
    )
    server.start()
    print(
        f"{_common.READY_MARK}pid={os.getpid()} queues={args.topic},{args.topic}.{server_name}",
        flush=True,
    )
    stop.wait(args.server_max_s)
    server.stop()
    server.wait()
    transport.cleanup()


def client_main(args):
    import oslo_messaging as om

    server, ready = _common.start_server(os.path.abspath(__file__), args)
    try:
        transport = _transport(args.url)
        client = om.get_rpc_client(transport, om.Target(topic=args.topic), timeout=120)

        def call(method, **kw):
            return client.call({}, method, **kw)

        def cast(method, **kw):
            client.cast({}, method, **kw)

        def shared():
            return [call] * args.params["threads"], lambda: None

        res = {
            "system": "oslo",
            "oslo.messaging": _common.version_of("oslo.messaging"),
            "kombu": _common.version_of("kombu"),
            "amqp": _common.version_of("amqp"),
            "server_ready": ready,
            "executor": "threading",
            "publisher_confirms": "on, one synchronous wait per publish (confirm_publish=True)",
        }
        _common.run_workloads(
            call, cast, args.params, res, [("conc", shared)], args.params.get("only")
        )
        cast("shutdown")
        queues = ready.split("queues=", 1)[1].split(",")
        reply_q = getattr(transport._driver, "_reply_q", None)
        if reply_q:
            queues.append(reply_q)
        res["queues"] = queues
        _common.stop_server(server)
        transport.cleanup()
        _common.emit_result(res)
    finally:
        if server.poll() is None:
            _common.stop_server(server, timeout=0)


def main():
    args = _common.parse_role_args()
    if args.role == "server":
        server_main(args)
    else:
        client_main(args)


if __name__ == "__main__":
    main()
