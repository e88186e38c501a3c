"""Executors: loading by name, the blocking and threading semantics, eventlet without patching."""

import os
import subprocess
import sys
import textwrap
import threading
import time

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


def test_threading_executor_never_exceeds_its_threads_and_runs_every_request(conf):
    conf.set_override("executor_thread_pool_size", 3)
    executor = ThreadingExecutor(conf)
    lock = threading.Lock()
    running, peak, done = [0], [0], []

    def work(i):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.002)
        with lock:
            running[0] -= 1
            done.append(i)

    for i in range(60):
        executor.submit(work, i)
    # Shutdown runs what was submitted before it, then ends the threads.
    executor.shutdown(wait=True)
    assert sorted(done) == list(range(60))
    assert peak[0] == 3
    assert not any(t.name.startswith("rpc-executor") for t in threading.enumerate())


def test_threading_executor_survives_a_request_that_raises(conf, caplog):
    conf.set_override("executor_thread_pool_size", 1)
    executor = ThreadingExecutor(conf)
    ran = threading.Event()

    def boom():
        raise RuntimeError("endpoint bug")

    executor.submit(boom)
    executor.submit(ran.set)
    assert ran.wait(2), "the pool's only thread died with the failed request"
    executor.shutdown(wait=True)
    assert "endpoint bug" in caplog.text


def test_threading_executor_reuses_idle_threads(conf):
    conf.set_override("executor_thread_pool_size", 8)
    executor = ThreadingExecutor(conf)
    names = set()
    for _ in range(50):
        finished = threading.Event()

        def work(finished=finished):
            names.add(threading.current_thread().name)
            finished.set()

        executor.submit(work)
        assert finished.wait(2)
        time.sleep(0.001)  # the thread is idle again before the next request
    executor.shutdown(wait=True)
    # Sequential requests are served by the thread that just became idle.
    assert len(names) <= 2


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
