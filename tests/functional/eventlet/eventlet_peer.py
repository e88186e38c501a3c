"""A monkey-patched process: an svcframe RPC server with the eventlet executor, or a client.

    eventlet_peer.py server --url URL --exchange E --topic T
    eventlet_peer.py client --url URL --exchange E --topic T --calls N --seconds S

eventlet.monkey_patch() runs before anything else is imported, as a legacy
eventlet service does.  The server prints ``READY`` once consuming and
stops when its stdin closes; the client prints one JSON line.
"""

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import select  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import eventlet.patcher  # noqa: E402
from oslo_config import cfg  # noqa: E402

from svcframe import messaging  # noqa: E402
from svcframe.conf import register_messaging_opts  # noqa: E402

warnings.simplefilter("ignore")


class Endpoint:
    def nap(self, ctxt, seconds):
        time.sleep(seconds)  # green: other requests run meanwhile
        return seconds

    def state(self, ctxt):
        return {
            "thread_patched": eventlet.patcher.is_monkey_patched("thread"),
            "socket_patched": eventlet.patcher.is_monkey_patched("socket"),
        }


def make_transport(args):
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[], default_config_dirs=[])
    register_messaging_opts(conf)
    conf.set_override("control_exchange", args.exchange)
    return messaging.get_rpc_transport(conf, args.url)


def serve(args, transport):
    target = messaging.Target(topic=args.topic, server="green")
    server = messaging.get_rpc_server(transport, target, [Endpoint()], executor="eventlet")
    server.start()
    print("READY", flush=True)
    # A green wait for EOF on stdin: a plain read() would block every green thread.
    while True:
        readable, _, _ = select.select([sys.stdin], [], [], 0.5)
        if readable and not sys.stdin.readline():
            break
    server.stop()
    server.wait()


def client(args, transport):
    rpc = messaging.get_rpc_client(transport, messaging.Target(topic=args.topic), timeout=20)
    rpc.call({}, "state")  # connect and declare the reply queue first
    pool = eventlet.GreenPool(args.calls)
    start = time.monotonic()
    results = list(
        pool.imap(lambda _: rpc.call({}, "nap", seconds=args.seconds), range(args.calls))
    )
    elapsed = time.monotonic() - start
    print(json.dumps({"results": results, "elapsed": elapsed}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["server", "client"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--exchange", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    transport = make_transport(args)
    try:
        {"server": serve, "client": client}[args.role](args, transport)
    finally:
        transport.cleanup()


if __name__ == "__main__":
    main()
