"""Executors: loading by name, the blocking and threading semantics, eventlet without patching."""

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from svcframe import messaging
from svcframe.messaging import exceptions
from svcframe.messaging.executors.blocking import BlockingExecutor
from svcframe.messaging.executors.threading import ThreadingExecutor


def test_blocking_executor_runs_inline(conf):
    ran_in = []
    executor = BlockingExecutor(conf)
    executor.submit(lambda x: ran_in.append((x, threading.current_thread())), 1)
    assert ran_in == [(1, threading.current_thread())]
    executor.shutdown()


def test_threading_executor_pool_size_and_shutdown(conf):
    conf.set_override("executor_thread_pool_size", 2)
    executor = ThreadingExecutor(conf)
    barrier = threading.Barrier(3, timeout=2)
    names = []

    def work():
        names.append(threading.current_thread().name)
        barrier.wait()

    for _ in range(2):
        executor.submit(work)
    # Both executor threads are busy at once, then released together.
    barrier.wait()
    executor.shutdown(wait=True)
    assert len(names) == 2 and all(n.startswith("rpc-executor") for n in names)
    with pytest.raises(RuntimeError):
        executor.submit(work)


def test_unknown_executor(transport):
    with pytest.raises(exceptions.ExecutorLoadFailure, match="'nosuch'"):
        messaging.get_rpc_server(
            transport, messaging.Target(topic="t", server="s"), [], executor="nosuch"
        )


def test_eventlet_executor_without_monkey_patching_runs_on_native_threads(transport, caplog):
    # oslo.messaging warns and goes on; code written for it passes "eventlet" by habit.
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic="t", server="s"), [], executor="eventlet"
    )
    assert "running requests on native threads instead" in caplog.text
    ran_in = []
    done = threading.Event()
    server._executor.submit(lambda: (ran_in.append(threading.current_thread().name), done.set()))
    assert done.wait(5)
    assert ran_in[0].startswith("rpc-executor")
    server._executor.shutdown()


def test_thread_pool_size_below_one_is_refused(conf):
    conf.set_override("executor_thread_pool_size", 0)
    with pytest.raises(ValueError, match="executor_thread_pool_size must be at least 1, not 0"):
        ThreadingExecutor(conf)


def test_executor_none_means_threading(transport):
    server = messaging.get_rpc_server(transport, messaging.Target(topic="t", server="s"), [])
    assert server.executor_type == "threading"
    assert isinstance(server._executor, ThreadingExecutor)


EVENTLET_SERVICE = textwrap.dedent(
    """
    import eventlet
    eventlet.monkey_patch()

    from oslo_config import cfg
    from svcframe import messaging

    conf = cfg.ConfigOpts()
    conf([], default_config_files=[], default_config_dirs=[])
    transport = messaging.get_rpc_transport(conf, "fake:///eventlet")

    class Endpoint:
        def sleep(self, ctxt, seconds):
            eventlet.sleep(seconds)
            return seconds

    target = messaging.Target(topic="t", server="s")
    server = messaging.get_rpc_server(transport, target, [Endpoint()], executor="eventlet")
    server.start()
    client = messaging.get_rpc_client(transport, messaging.Target(topic="t"))
    pool = eventlet.GreenPool()
    results = list(pool.imap(lambda s: client.call({}, "sleep", seconds=s), [0.2] * 5))
    server.stop()
    server.wait()
    transport.cleanup()
    print(results)
    """
)


def test_eventlet_executor_serves_in_a_patched_process():
    result = subprocess.run(
        [sys.executable, "-c", EVENTLET_SERVICE],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0.2, 0.2, 0.2, 0.2, 0.2]"
