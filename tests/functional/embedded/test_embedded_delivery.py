"""What the embedded transport does as a broker: claims, expiry, dead processes, fail-fast calls."""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid

import kombu
import pytest
from oslo_config import cfg

from svcframe import messaging
from svcframe.conf import register_messaging_opts
from svcframe.testing import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))


class _Echo:
    target = messaging.Target(version="1.0")

    def echo(self, ctxt, value):
        return value


@pytest.fixture
def transport(tmp_path):
    conf = cfg.ConfigOpts()
    conf(args=[], project="svcframe-test", default_config_files=[])
    register_messaging_opts(conf)
    conf.set_override("state_path", str(tmp_path / "state"))
    conf.set_override("rpc_response_timeout", 20)
    transport = messaging.get_rpc_transport(conf)
    yield transport
    transport.cleanup()


def _data_dir(transport):
    return transport._driver.data_dir


def _publish(transport, queue, body, **properties):
    with transport._driver.make_connection() as conn:
        channel = conn.channel()
        kombu.Queue(queue, kombu.Exchange("x", type="direct"), routing_key=queue)(channel).declare()
        kombu.Producer(channel).publish(
            body, exchange="x", routing_key=queue, serializer="json", **properties
        )


def _receive(transport, queue, timeout):
    got = []
    with transport._driver.make_connection() as conn:
        consumer = kombu.Consumer(
            conn.channel(), queues=[kombu.Queue(queue)], on_message=got.append, no_ack=True
        )
        consumer.consume()
        deadline = time.monotonic() + timeout
        while not got and time.monotonic() < deadline:
            try:
                conn.drain_events(timeout=0.2)
            except TimeoutError:
                pass
    return [json.loads(m.body) for m in got]


def test_a_message_claimed_by_a_killed_process_goes_back_to_its_queue(transport):
    queue = f"claims-{uuid.uuid4().hex}"
    _publish(transport, queue, {"n": 1})
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "claim_and_die.py"), _data_dir(transport), queue],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().startswith("CLAIMED")
        claimed = os.path.join(_data_dir(transport), "queues", queue, ".claimed")
        assert len(os.listdir(claimed)) == 1  # held, unacked, by the process
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    # The next consumer to start gives it back to the queue, and gets it.
    assert _receive(transport, queue, timeout=10) == [{"n": 1}]
    assert os.listdir(claimed) == []


def _claim_in_new_container(data_dir, queue):
    """claim_and_die.py as pid 1 of a PID namespace (and /proc) of its own, as in a container."""
    return subprocess.Popen(
        ["unshare", "--pid", "--mount-proc", "--kill-child"]
        + [sys.executable, os.path.join(HERE, "claim_and_die.py"), data_dir, queue],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _line(proc, timeout):
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare for PID namespaces",
)
def test_a_claim_of_a_dead_process_goes_back_even_when_its_pid_is_taken_again(transport):
    # A container started again on the same state volume runs its processes
    # with the pids the dead ones had: their claims must not pass for the
    # new processes' own.
    queue = f"claims-{uuid.uuid4().hex}"
    _publish(transport, queue, {"n": 1})
    claimed = os.path.join(_data_dir(transport), "queues", queue, ".claimed")
    first = _claim_in_new_container(_data_dir(transport), queue)
    second = None
    try:
        assert _line(first, 20).startswith("CLAIMED")
        with open(f"/proc/{first.pid}/task/{first.pid}/children") as f:
            (claimer,) = f.read().split()
        assert len(os.listdir(claimed)) == 1
        first.kill()  # --kill-child: the claimer gets SIGKILL too
        first.wait(10)
        wait_until(lambda: not _alive(claimer), 10, message="the claimer killed")

        second = _claim_in_new_container(_data_dir(transport), queue)
        line = _line(second, 20)
        assert line.startswith("CLAIMED"), f"the dead claimer's message never came back: {line!r}"
        assert '{"n": 1}' in line, line
    finally:
        for proc in (first, second):
            if proc is not None:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(10)
                proc.stdin.close()
                proc.stdout.close()


def test_an_expired_call_request_is_dropped_unprocessed(transport):
    queue = f"expiry-{uuid.uuid4().hex}"
    got = []
    with transport._driver.make_connection() as conn:
        channel = conn.channel()
        kombu.Queue(queue, kombu.Exchange("x", type="direct"), routing_key=queue)(channel).declare()
        consumer = kombu.Consumer(
            channel, queues=[kombu.Queue(queue)], on_message=got.append, no_ack=True
        )
        consumer.consume()  # a live consumer, busy elsewhere for a while
        _publish(transport, queue, {"n": "expired"}, expiration=0.1)
        _publish(transport, queue, {"n": "fresh"}, expiration=60)
        time.sleep(0.3)
        deadline = time.monotonic() + 5
        while len(got) < 1 and time.monotonic() < deadline:
            try:
                conn.drain_events(timeout=0.2)
            except TimeoutError:
                pass
        with pytest.raises(TimeoutError):
            conn.drain_events(timeout=0.3)
    assert [json.loads(m.body) for m in got] == [{"n": "fresh"}]
    assert os.listdir(os.path.join(_data_dir(transport), "queues", queue, ".claimed")) == []


def test_a_call_to_a_topic_nobody_consumes_fails_within_a_second(transport):
    topic = f"nobody-{uuid.uuid4().hex}"
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=30)
    for _ in range(2):  # never served, then served and stopped
        start = time.monotonic()
        with pytest.raises(messaging.MessageDeliveryFailure) as caught:
            client.call({}, "echo", value=1)
        assert time.monotonic() - start < 1.0
        assert "embedded transport" in str(caught.value)
        assert _data_dir(transport) in str(caught.value)
        server = messaging.get_rpc_server(
            transport, messaging.Target(topic=topic, server="s1"), [_Echo()], executor="threading"
        )
        server.start()
        assert client.call({}, "echo", value=2) == 2
        server.stop()
        server.wait()
    # A cast to a topic whose server stopped waits for it, as on RabbitMQ.
    client.cast({}, "echo", value=3)
    queued = os.listdir(os.path.join(_data_dir(transport), "queues", topic))
    assert len([name for name in queued if name.endswith(".msg")]) == 1


def _peer_server(config, topic, name):
    argv = [
        sys.executable,
        os.path.join(HERE, "embedded_peer.py"),
        "server",
        "--config-file",
        config,
        "--topic",
        topic,
        "--server",
        name,
    ]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "READY"
    return proc


def test_queues_of_killed_processes_are_removed(transport, tmp_path):
    config = tmp_path / "peer.conf"
    config.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n")
    topic = f"killed-{uuid.uuid4().hex}"
    procs = [_peer_server(str(config), topic, f"s{i}") for i in range(3)]
    queues = os.path.join(_data_dir(transport), "queues")
    assert sum("_fanout_" in q for q in os.listdir(queues)) == 3
    for proc in procs:
        proc.kill()
        proc.wait(10)
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic, fanout=True))
    for n in range(5):
        client.cast({}, "record", tag=str(n))
    left = [q for q in os.listdir(queues) if "_fanout_" in q]
    assert left == []
    bindings = os.path.join(_data_dir(transport), "exchanges", f"{topic}_fanout.exchange")
    assert open(bindings).read() == "[]"
    # A caller's reply queue is gone once the caller is.
    caller = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, %r); import embedded_peer as p; "
            "t = p.make_transport(%r); p.messaging.get_rpc_client(t, p.messaging.Target("
            "topic='x')).prepare(timeout=1).call({}, 'echo', value=1)" % (HERE, str(config)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "UnroutableCall" in caller.stderr  # nobody serves 'x'
    assert [q for q in os.listdir(queues) if q.startswith("reply_")]
    # Any consumer that starts (and every consumer, periodically) cleans up.
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic=topic, server="s1"), [_Echo()], executor="threading"
    )
    server.start()
    try:
        wait_until(lambda: not [q for q in os.listdir(queues) if q.startswith("reply_")])
    finally:
        server.stop()
        server.wait()


def test_messages_are_written_then_renamed_where_unnamed_files_cannot_be_linked(
    transport, monkeypatch
):
    from svcframe.messaging.drivers.embedded import store

    monkeypatch.setattr(store, "_tmpfile_works", False)
    topic = f"renamed-{uuid.uuid4().hex}"
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic=topic, server="s1"), [_Echo()], executor="threading"
    )
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
        assert [client.call({}, "echo", value=n) for n in range(5)] == list(range(5))
    finally:
        server.stop()
        server.wait()
    queue = os.path.join(_data_dir(transport), "queues", topic)
    assert [name for name in os.listdir(queue) if name.startswith(".") and "msg" in name] == []
