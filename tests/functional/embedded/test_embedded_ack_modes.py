"""The embedded transport under the server's ack modes and prefetch bound.

The servers are the RabbitMQ delivery suite's (delivery_server_process.py)
on an embedded:// URL, in processes of their own, killed with real signals.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from oslo_config import cfg

from svcframe import messaging
from svcframe.conf import register_messaging_opts
from svcframe.testing import wait_until

pytestmark = pytest.mark.slow

SERVER = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "messaging",
    "delivery_server_process.py",
)
CASTS = 300


class _Server:
    def __init__(self, url, topic, record, ack_mode="after_processing", threads=4):
        argv = [sys.executable, SERVER, url, topic, f"host-{uuid.uuid4().hex[:8]}", record]
        argv += [ack_mode, str(threads), "0"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                if line.strip() == "ready":
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(30):
            self.proc.kill()
            raise AssertionError("the server did not start within 30 s")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def _processed(record):
    with open(record) as f:
        return [int(line) for line in f.read().split()]


@pytest.fixture
def setup(tmp_path):
    data_dir = tmp_path / "queues"
    url = f"embedded://{data_dir}"
    record = str(tmp_path / "processed")
    open(record, "w").close()
    conf = cfg.ConfigOpts()
    register_messaging_opts(conf)
    conf([], project="svcframe-tests", default_config_files=[], default_config_dirs=[])
    transport = messaging.get_rpc_transport(conf, url)
    servers = []
    yield url, record, transport, servers, data_dir
    for server in servers:
        server.close()
    transport.cleanup()


def test_a_killed_server_loses_no_cast_after_processing_and_holds_no_more_than_its_prefetch(
    setup,
):
    url, record, transport, servers, data_dir = setup
    topic = f"acks-{uuid.uuid4().hex}"
    servers.append(_Server(url, topic, record, threads=4))
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
    for n in range(CASTS):
        client.cast({}, "work", n=n)
    claimed = data_dir / "queues" / topic / ".claimed"
    most = 0
    while True:
        most = max(most, len(os.listdir(claimed)))
        if len(_processed(record)) >= 60:
            break
        time.sleep(0.005)
    # The default prefetch is twice the executor's threads.
    assert 0 < most <= 8
    os.kill(servers[0].proc.pid, signal.SIGKILL)
    servers[0].proc.wait(10)
    done_before = len(_processed(record))
    assert done_before < CASTS
    assert os.listdir(claimed), "the killed server held no unacked cast"

    servers.append(_Server(url, topic, record, threads=4))
    wait_until(lambda: set(_processed(record)) >= set(range(CASTS)), 60)
    seen = _processed(record)
    # At-least-once: only what was running when the server died ran twice.
    assert len(seen) - len(set(seen)) <= 4
    # The last casts' acks may still be in the server's ack batch (a few ms).
    wait_until(
        lambda: os.listdir(claimed) == [],
        5,
        message=lambda: f"no claims left: {os.listdir(claimed)}",
    )
