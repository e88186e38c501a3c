"""A transport used before os.fork(): the child opens its own connections."""

import json
import os
import signal
import time

import pytest
from conftest import reply_queue_name
from rpc_endpoints import Recorder

pytestmark = pytest.mark.rabbit

CHILD_TIMEOUT = 20


def run_in_child(work):
    """Run ``work()`` in a forked child; its JSON-able result, or AssertionError."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            outcome = {"result": work()}
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            outcome = {"error": f"{type(exc).__name__}: {exc}"}
        with os.fdopen(write_end, "w") as pipe:
            json.dump(outcome, pipe)
        os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + CHILD_TIMEOUT
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_end)
            raise AssertionError(f"the child did not finish within {CHILD_TIMEOUT} s")
        time.sleep(0.05)
    with os.fdopen(read_end) as pipe:
        text = pipe.read()
    assert text, "the child died without reporting"
    return json.loads(text)


def test_child_of_a_forked_process_calls_on_its_own_connections(rpc, topic):
    transport = rpc.transport()
    recorder = Recorder()
    rpc.server(transport, topic, [recorder])
    client = rpc.client(transport, topic, timeout=5)
    assert client.call({}, "echo", value="parent before fork") == "parent before fork"
    parent_reply_queue = reply_queue_name(transport)

    def child():
        result = client.call({}, "echo", value="child")
        client.cast({}, "record", value="from child")
        reply_queue = reply_queue_name(transport)
        transport.cleanup()
        return {"echo": result, "reply_queue": reply_queue}

    outcome = run_in_child(child)

    assert "error" not in outcome, outcome["error"]
    rpc.forget_queues(outcome["result"]["reply_queue"])
    assert outcome["result"]["echo"] == "child"
    assert outcome["result"]["reply_queue"] != parent_reply_queue
    assert recorder.wait_for_records(1, timeout=5) == ["from child"]
    assert client.call({}, "echo", value="parent after fork") == "parent after fork"
