"""One interop peer process: an RPC server or client on oslo.messaging or on svcframe.

Both libraries are driven through the same code (their public APIs have the
same names), configured from the same config file, so any difference in
outcome comes from the library and not from the script.

    interop_peer.py server   --impl oslo|svcframe --config-file F --topic T --server S
    interop_peer.py scenario --impl oslo|svcframe --config-file F --topic T --servers S1,S2 --tag X
    interop_peer.py capture  --impl oslo|svcframe --config-file F --topic T --server S

A server prints ``READY`` once it consumes and runs until its stdin is
closed.  The other roles print one JSON line with their outcomes.  Each
process imports only the library it is asked for.
"""

import argparse
import json
import os
import sys
import time
import warnings

warnings.simplefilter("ignore")

CONTEXT = {
    "user_id": "user-1",
    "project_id": "project-1",
    "roles": ["reader", "member"],
    "is_admin": False,
}


def load(impl):
    if impl == "oslo":
        import oslo_messaging

        return oslo_messaging
    from svcframe import messaging

    return messaging


def make_conf(impl, config_file):
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf(
        args=[],
        project="interop",
        default_config_files=[config_file],
        default_config_dirs=[],
    )
    if impl == "oslo":
        # oslo.messaging registers these groups on the global cfg.CONF only,
        # but reads them from the transport's conf on every call.
        import importlib

        for module, name in (
            ("oslo_messaging._metrics.client", "oslo_messaging_metrics"),
            ("oslo_messaging._tracing.client", "oslo_messaging_tracing"),
        ):
            try:
                opts = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError):
                continue
            conf.register_opts(opts, group=name)
    return conf


# -- server ------------------------------------------------------------------


def serve(args):
    import interop_endpoints

    m = load(args.impl)
    conf = make_conf(args.impl, args.config_file)
    transport = m.get_rpc_transport(conf)
    versioned = interop_endpoints.VersionedEndpoint()
    versioned.target = m.Target(namespace="interop", version="1.3")
    endpoints = [interop_endpoints.Endpoint(args.server, args.impl), versioned]
    target = m.Target(topic=args.topic, server=args.server)
    server = m.get_rpc_server(transport, target, endpoints, executor="threading")
    server.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()  # until the test closes our stdin
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


# -- clients -----------------------------------------------------------------


def outcome(m, fn):
    """What a call gave, in terms both libraries share."""
    try:
        return {"ok": fn()}
    except m.RemoteError as exc:
        return {
            "error": "RemoteError",
            "exc_type": exc.exc_type,
            "value": str(exc.value).splitlines()[0] if exc.value else exc.value,
        }
    except m.MessagingTimeout:
        return {"error": "MessagingTimeout"}
    except Exception as exc:
        cls = type(exc)
        return {
            "error": "raised",
            "class": cls.__name__.removesuffix("_Remote"),
            "module": cls.__module__.removesuffix("_Remote"),
            "message": str(exc).splitlines()[0],
            "kwargs": getattr(exc, "kwargs", None),
        }


def scenario(args):
    import interop_exc

    m = load(args.impl)
    conf = make_conf(args.impl, args.config_file)
    allowed = m.get_rpc_transport(conf, allowed_remote_exmods=["interop_exc"])
    plain = m.get_rpc_transport(conf)
    target = m.Target(topic=args.topic)
    client = m.get_rpc_client(allowed, target, timeout=20)
    strict = m.get_rpc_client(plain, target, timeout=20)
    ctxt = dict(CONTEXT, request_id="req-scenario")
    servers = args.servers.split(",")
    out = {}

    def run(name, fn):
        out[name] = outcome(m, fn)

    run("echo", lambda: client.call(ctxt, "echo", value={"a": [1, 2.5, "x"], "b": None}))
    run("echo_unicode", lambda: client.call(ctxt, "echo", value="h\u00e9llo \u20ac \U0001f600"))
    big = "x" * 65536
    run("echo_64k", lambda: client.call(ctxt, "echo", value=big) == big)
    run("add", lambda: client.call(ctxt, "add", a=2, b=40))
    run("nothing", lambda: client.call(ctxt, "nothing"))
    run("primitive", lambda: client.call(ctxt, "primitive"))
    run("context", lambda: client.call(ctxt, "context"))
    run(
        "context_with_monitor",
        lambda: client.prepare(call_monitor_timeout=4).call(ctxt, "context"),
    )

    # Exceptions.
    run("custom_allowed", lambda: client.call(ctxt, "raise_custom", message="bad", code=7))

    def custom_isinstance():
        try:
            client.call(ctxt, "raise_custom", message="bad", code=7)
        except interop_exc.InteropError as exc:
            return {"isinstance": True, "code": exc.code}
        return {"isinstance": False}

    run("custom_allowed_isinstance", custom_isinstance)
    run("custom_not_allowed", lambda: strict.call(ctxt, "raise_custom", message="bad", code=7))
    run("value_error", lambda: client.call(ctxt, "raise_value_error", message="no good"))
    run("value_error_strict", lambda: strict.call(ctxt, "raise_value_error", message="no good"))
    run("unlisted", lambda: client.call(ctxt, "raise_unlisted"))
    run("no_such_method", lambda: client.call(ctxt, "no_such_method"))
    run("private_method", lambda: client.call(ctxt, "_private"))
    run("wrong_argument", lambda: client.call(ctxt, "add", a=1, c=2))

    # Namespaces and versions.
    run("version_1_0", lambda: client.prepare(version="1.0").call(ctxt, "echo", value=1))
    run("version_2_0", lambda: client.prepare(version="2.0").call(ctxt, "echo", value=1))
    run("version_1_1", lambda: client.prepare(version="1.1").call(ctxt, "echo", value=1))
    ns = client.prepare(namespace="interop", version="1.2")
    run("ns_1_2", lambda: ns.call(ctxt, "ns_echo", value="v"))
    run("ns_1_3", lambda: ns.prepare(version="1.3").call(ctxt, "ns_echo", value="v"))
    run("ns_1_4", lambda: ns.prepare(version="1.4").call(ctxt, "ns_echo", value="v"))
    run("ns_missing_method", lambda: ns.call(ctxt, "echo", value="v"))
    run("ns_unknown", lambda: client.prepare(namespace="nope").call(ctxt, "echo", value=1))
    run("ns_method_without_ns", lambda: client.call(ctxt, "ns_echo", value="v"))

    # Server-directed calls.
    for name in servers:
        run(f"directed_{name}", lambda s=name: client.prepare(server=s).call(ctxt, "whoami"))

    # Call monitor: heartbeats keep a 3 s call alive with a 2 s monitor.
    def monitored():
        return client.prepare(call_monitor_timeout=2, timeout=15).call(ctxt, "slow", seconds=3)

    run("call_monitor_heartbeats", monitored)

    def timed_out():
        start = time.monotonic()
        try:
            client.prepare(timeout=1).call(ctxt, "slow", seconds=2.5)
        except m.MessagingTimeout:
            return {"timeout": True, "prompt": time.monotonic() - start < 2.5}
        return {"timeout": False}

    run("call_timeout", timed_out)

    # Casts: a topic cast reaches one server, a fanout cast every server.
    cast_tag, fanout_tag = f"{args.tag}-cast", f"{args.tag}-fanout"
    run("cast", lambda: client.cast(ctxt, "record", tag=cast_tag))
    run("fanout_cast", lambda: client.prepare(fanout=True).cast(ctxt, "record", tag=fanout_tag))
    deadline = time.monotonic() + 10
    while True:
        records = {s: client.prepare(server=s).call(ctxt, "records") for s in servers}
        fanned = sorted(s for s in servers if fanout_tag in records[s])
        casts = sum(r.count(cast_tag) for r in records.values())
        if (len(fanned) == len(servers) and casts) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    out["fanout_reached"] = {"ok": fanned}
    out["cast_received"] = {"ok": casts}

    allowed.cleanup()
    plain.cleanup()
    print(json.dumps(out), flush=True)


def capture(args):
    """Send the messages the test captures: a cast, a fanout cast and two calls."""
    m = load(args.impl)
    conf = make_conf(args.impl, args.config_file)
    transport = m.get_rpc_transport(conf)
    target = m.Target(topic=args.topic, namespace="interop", version="1.1")
    client = m.get_rpc_client(transport, target)
    ctxt = dict(CONTEXT, request_id="req-capture")
    client.cast(ctxt, "record", tag="cast")
    client.prepare(fanout=True).cast(ctxt, "record", tag="fanout")
    results = [
        client.prepare(timeout=10).call(ctxt, "echo", value={"k": [1, "two"]}),
        client.prepare(server=args.server, timeout=12, call_monitor_timeout=8).call(
            ctxt, "add", a=1, b=2
        ),
    ]
    transport.cleanup()
    print(json.dumps(results), flush=True)


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["server", "scenario", "capture"])
    parser.add_argument("--impl", choices=["oslo", "svcframe"], required=True)
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--server", default="srv1")
    parser.add_argument("--servers", default="srv1")
    parser.add_argument("--tag", default="t")
    args = parser.parse_args()
    {"server": serve, "scenario": scenario, "capture": capture}[args.role](args)


if __name__ == "__main__":
    main()
