"""An RPC server in a process of its own that records every cast it processes.

Usage: python delivery_server_process.py URL TOPIC SERVER RECORD_FILE ACK_MODE THREADS PREFETCH

``work(n)`` sleeps 5 to 20 ms, then appends ``n`` to RECORD_FILE (one
line, O_APPEND: lines from several processes do not mix).  Prints
``ready`` once consuming.  SIGTERM stops it as a service stops: stop
consuming, finish what runs, then print ``stats {...}`` and exit 0.
"""

import json
import os
import random
import signal
import sys
import threading
import time

from oslo_config import cfg

from svcframe import messaging
from svcframe.conf import register_messaging_opts


class Worker:
    def __init__(self, record):
        self._fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def work(self, ctxt, n):
        time.sleep(random.uniform(0.005, 0.02))
        os.write(self._fd, f"{n}\n".encode())

    def echo(self, ctxt, value):
        return value


def main(url, topic, server, record, ack_mode, threads, prefetch):
    conf = cfg.ConfigOpts()
    register_messaging_opts(conf)
    conf([], project="svcframe-tests", default_config_files=[], default_config_dirs=[])
    conf.set_override("executor_thread_pool_size", int(threads))
    conf.set_override("rabbit_transient_queues_ttl", 300, group="oslo_messaging_rabbit")
    conf.set_override("rabbit_qos_prefetch_count", int(prefetch), group="oslo_messaging_rabbit")
    transport = messaging.get_rpc_transport(conf, url)
    rpc_server = messaging.get_rpc_server(
        transport,
        messaging.Target(topic=topic, server=server),
        [Worker(record)],
        ack_mode=ack_mode,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rpc_server.start()
    print("ready", flush=True)
    stop.wait()
    started = time.monotonic()
    rpc_server.stop()
    rpc_server.wait()
    stats = rpc_server.stats()
    stats["stop_seconds"] = round(time.monotonic() - started, 2)
    transport.cleanup()
    print("stats " + json.dumps(stats), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:8])
