"""A process talking over the embedded transport (no broker, no transport_url).

    embedded_peer.py server --config-file F --topic T --server S
    embedded_peer.py client --config-file F --topic T --name N --servers S1[,S2]
    embedded_peer.py load   --config-file F --topic T --start I --count N --threads K

A server prints ``READY`` once consuming and runs until its stdin closes;
the other roles print one JSON line with what they saw.
"""

import argparse
import json
import os
import sys
import threading
from concurrent import futures

from oslo_config import cfg

from svcframe import messaging


class Endpoint:
    def __init__(self, server):
        self.server = server
        self._lock = threading.Lock()
        self._records = []
        self._taken = []

    def echo(self, ctxt, value):
        return value

    def add(self, ctxt, a, b):
        return a + b

    def whoami(self, ctxt):
        return {"server": self.server, "pid": os.getpid()}

    def record(self, ctxt, tag):
        with self._lock:
            self._records.append(tag)

    def records(self, ctxt):
        with self._lock:
            return list(self._records)

    def take(self, ctxt, item):
        with self._lock:
            self._taken.append(item)
        return self.server

    def taken(self, ctxt):
        with self._lock:
            return list(self._taken)


def make_transport(config_file):
    conf = cfg.ConfigOpts()
    conf(args=[], project="embedded", default_config_files=[config_file], default_config_dirs=[])
    return messaging.get_rpc_transport(conf)


def serve(args, transport):
    target = messaging.Target(topic=args.topic, server=args.server)
    server = messaging.get_rpc_server(transport, target, [Endpoint(args.server)])
    server.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()
        server.wait()


def client(args, transport):
    rpc = messaging.get_rpc_client(transport, messaging.Target(topic=args.topic), timeout=20)
    ctxt = {"client": args.name}
    out = {
        "echo": rpc.call(ctxt, "echo", value={"from": args.name, "n": [1, 2]}),
        "add": rpc.call(ctxt, "add", a=len(args.name), b=1),
        "directed": {
            name: rpc.prepare(server=name).call(ctxt, "whoami")["server"]
            for name in args.servers.split(",")
        },
    }
    rpc.cast(ctxt, "record", tag=f"cast-{args.name}")
    rpc.prepare(fanout=True).cast(ctxt, "record", tag=f"fanout-{args.name}")
    try:
        rpc.prepare(timeout=0.5).call(ctxt, "no_such_method")
    except messaging.RemoteError as exc:
        out["error"] = exc.exc_type
    print(json.dumps(out), flush=True)


def load(args, transport):
    """``count`` calls of ``take`` from ``threads`` threads: which server took which item."""
    rpc = messaging.get_rpc_client(transport, messaging.Target(topic=args.topic), timeout=30)
    items = range(args.start, args.start + args.count)
    with futures.ThreadPoolExecutor(args.threads) as pool:
        answers = list(pool.map(lambda i: rpc.call({}, "take", item=i), items))
    print(json.dumps(dict(zip(items, answers, strict=True))), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["server", "client", "load"])
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--server", default="srv1")
    parser.add_argument("--servers", default="srv1")
    parser.add_argument("--name", default="client")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    transport = make_transport(args.config_file)
    try:
        {"server": serve, "client": client, "load": load}[args.role](args, transport)
    finally:
        transport.cleanup()


if __name__ == "__main__":
    main()
