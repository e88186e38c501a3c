"""An RPC server in a process of its own, for tests that kill a server mid-call.

Usage: python rpc_server_process.py TRANSPORT_URL TOPIC SERVER

Prints ``ready`` once consuming and ``started <method>`` when a blocking
method begins; serves until killed or until its stdin is closed.
"""

import sys
import threading

from oslo_config import cfg

from svcframe import messaging
from svcframe.conf import register_messaging_opts


class Blocker:
    def echo(self, ctxt, value):
        return value

    def block_forever(self, ctxt):
        print("started block_forever", flush=True)
        threading.Event().wait()


def main(url, topic, server):
    conf = cfg.ConfigOpts()
    register_messaging_opts(conf)
    conf([], project="svcframe-tests", default_config_files=[], default_config_dirs=[])
    transport = messaging.get_rpc_transport(conf, url)
    rpc_server = messaging.get_rpc_server(
        transport, messaging.Target(topic=topic, server=server), [Blocker()]
    )
    rpc_server.start()
    print("ready", flush=True)
    sys.stdin.read()
    rpc_server.stop()
    rpc_server.wait()
    transport.cleanup()


if __name__ == "__main__":
    main(*sys.argv[1:4])
