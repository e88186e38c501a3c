"""The eventlet executor end to end, in monkey-patched processes, against RabbitMQ."""

import subprocess
import sys
import textwrap
import time
from concurrent import futures

import pytest
from eventlet_harness import TRANSPORT_URL
from oslo_config import cfg

from svcframe import messaging
from svcframe.conf import register_messaging_opts

pytestmark = [pytest.mark.rabbit, pytest.mark.slow]

CALLS = 20
NAP = 0.5
# 20 naps of 0.5 s take 10 s one after the other; overlapped they take ~0.5 s.
CONCURRENT_LIMIT = 2.0


@pytest.fixture
def native_client(green_server):
    exchange, topic = green_server
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[], default_config_dirs=[])
    register_messaging_opts(conf)
    conf.set_override("control_exchange", exchange)
    transport = messaging.get_rpc_transport(conf, TRANSPORT_URL)
    yield messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=20)
    transport.cleanup()


def test_server_process_is_monkey_patched(native_client):
    assert native_client.call({}, "state") == {"thread_patched": True, "socket_patched": True}


def test_green_server_serves_concurrent_calls_from_native_threads(native_client):
    native_client.call({}, "state")  # the reply queue exists before the clock starts
    with futures.ThreadPoolExecutor(CALLS) as pool:
        start = time.monotonic()
        results = list(pool.map(lambda _: native_client.call({}, "nap", seconds=NAP), range(CALLS)))
        elapsed = time.monotonic() - start
    assert results == [NAP] * CALLS
    assert elapsed < CONCURRENT_LIMIT, f"{CALLS} calls of {NAP} s took {elapsed:.2f} s"


def test_green_client_makes_concurrent_calls_to_green_server(green_client):
    out = green_client(CALLS, NAP)
    assert out["results"] == [NAP] * CALLS
    assert out["elapsed"] < CONCURRENT_LIMIT, out


def test_eventlet_executor_without_monkey_patching_serves_on_native_threads():
    script = textwrap.dedent(
        """
        import logging
        import threading
        import warnings
        warnings.simplefilter("ignore")
        logging.basicConfig(level=logging.WARNING)
        from oslo_config import cfg
        from svcframe import messaging
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[], default_config_dirs=[])
        transport = messaging.get_rpc_transport(conf, "fake:///unpatched")

        class Endpoint:
            def where(self, ctxt):
                return threading.current_thread().name

        target = messaging.Target(topic="t", server="s")
        server = messaging.get_rpc_server(transport, target, [Endpoint()], executor="eventlet")
        server.start()
        client = messaging.get_rpc_client(transport, messaging.Target(topic="t"), timeout=20)
        print(client.call({}, "where"))
        server.stop()
        server.wait()
        transport.cleanup()
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("rpc-executor"), out.stdout + out.stderr
    assert "running requests on native threads instead" in out.stderr


def test_green_server_sends_call_monitor_heartbeats(native_client):
    # Without the green call-monitor heartbeats the call would fail after 2 s.
    monitored = native_client.prepare(call_monitor_timeout=2, timeout=15)
    assert monitored.call({}, "nap", seconds=3) == 3
