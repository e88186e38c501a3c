"""Requests in flight, slow-call lines and metric labels, over the fake driver."""

import logging
import subprocess
import sys
import textwrap
import threading

from svcframe import messaging
from svcframe.context import RequestContext
from svcframe.messaging import _tracking as tracking
from svcframe.testing import wait_until


class Blocking:
    def __init__(self):
        self.started = threading.Event()
        self.release = threading.Event()

    def wait(self, ctxt, seconds=5):
        self.started.set()
        self.release.wait(seconds)
        return "done"


def client_for(transport, **prepare):
    client = messaging.get_rpc_client(transport, messaging.Target(topic="topic", server="host1"))
    return client.prepare(**prepare) if prepare else client


def test_a_running_request_is_in_flight_with_its_request_id(transport, make_server):
    endpoint = Blocking()
    make_server([endpoint])
    ctxt = RequestContext(request_id="req-tracked")
    client_for(transport).cast(ctxt.to_dict(), "wait")
    assert endpoint.started.wait(5)
    running = [r for r in tracking.in_flight() if r.request_id == "req-tracked"]
    assert [(r.kind, r.topic, r.method) for r in running] == [("cast", "topic", "wait")]
    assert tracking.gauges()["topic"] == (0, 1)
    endpoint.release.set()


def test_requests_waiting_for_a_thread_are_the_backlog(conf, transport, make_server):
    conf.set_override("executor_thread_pool_size", 1)
    endpoint = Blocking()
    make_server([endpoint], topic="backlogged")
    client = messaging.get_rpc_client(
        transport, messaging.Target(topic="backlogged", server="host1")
    )
    # One thread: the prefetch is 2, so of three casts one runs, one waits
    # in the server (the backlog) and the third stays in the broker.
    for _ in range(3):
        client.cast({}, "wait")
    assert endpoint.started.wait(5)
    wait_until(lambda: tracking.gauges()["backlogged"] == (1, 1), 5, message="one backlogged")
    endpoint.release.set()
    wait_until(lambda: tracking.gauges()["backlogged"] == (0, 0), 5, message="an empty backlog")


def test_a_slow_request_is_logged_once_by_server_and_client(conf, transport, make_server, caplog):
    conf.set_override("rpc_slow_call_threshold", 0.05)
    endpoint = Blocking()
    make_server([endpoint])
    threading.Timer(0.3, endpoint.release.set).start()
    ctxt = RequestContext(request_id="req-slow")
    with caplog.at_level(logging.WARNING, logger="svcframe.messaging.slow"):
        assert client_for(transport).call(ctxt.to_dict(), "wait") == "done"
    lines = [r.getMessage() for r in caplog.records if r.name == "svcframe.messaging.slow"]
    assert len(lines) == 2, lines
    server_line = next(line for line in lines if line.startswith("Slow RPC request"))
    client_line = next(line for line in lines if line.startswith("Slow RPC call"))
    # Logged when it ends, or by the watcher if it looked while the call still ran.
    assert "call topic.wait (request req-slow) " in server_line
    assert " ran " in server_line or " still running after " in server_line
    assert "topic.wait (request req-slow) waited" in client_line


def test_zero_threshold_logs_nothing(conf, transport, make_server, caplog):
    conf.set_override("rpc_slow_call_threshold", 0)
    endpoint = Blocking()
    endpoint.release.set()
    make_server([endpoint])
    with caplog.at_level(logging.WARNING, logger="svcframe.messaging.slow"):
        client_for(transport).call({}, "wait")
    assert not [r for r in caplog.records if r.name == "svcframe.messaging.slow"]


_LABELS_SCRIPT = textwrap.dedent(
    """
    import sys, uuid
    from oslo_config import cfg
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess
    from svcframe import messaging, metrics
    from svcframe.conf import register_messaging_opts

    metrics.enable(sys.argv[1])
    conf = cfg.ConfigOpts()
    register_messaging_opts(conf)
    conf([], project="t", default_config_files=[], default_config_dirs=[])
    transport = messaging.get_rpc_transport(conf, f"fake:///{uuid.uuid4().hex}")

    class Endpoint:
        def echo(self, ctxt, value):
            return value

        def boom(self, ctxt):
            raise ValueError("boom")

    server = messaging.get_rpc_server(
        transport, messaging.Target(topic="labels", server="h"), [Endpoint()]
    )
    server.start()
    client = messaging.get_rpc_client(transport, messaging.Target(topic="labels", server="h"))
    client.call({}, "echo", value=1)
    for method in ("boom", "x" * 50 + str(uuid.uuid4()), "_private"):
        try:
            client.call({}, method)
        except Exception:
            pass
    try:
        client.call({}, "echo", wrong=1)
    except TypeError:
        pass
    try:
        client.prepare(timeout=0.2, server="nobody").call({}, "echo", value=1)
    except messaging.MessagingTimeout:
        pass
    server.stop()
    server.wait()
    transport.cleanup()
    metrics.flush()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=sys.argv[1])
    sys.stdout.write(generate_latest(registry).decode())
    """
)


def test_metric_labels_come_from_the_code_not_the_wire(tmp_path):
    """Run in a child: enabling metrics sets process-wide state."""
    out = subprocess.run(
        [sys.executable, "-c", _LABELS_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in out.splitlines()
        if line.startswith("svcframe_rpc_server_requests_total")
        or line.startswith("svcframe_rpc_client_requests_total")
    }
    labels = '{{kind="call",method="{}",outcome="{}",topic="labels"}}'
    server = "svcframe_rpc_server_requests_total" + labels
    client = "svcframe_rpc_client_requests_total" + labels
    assert samples[server.format("echo", "ok")] == 1
    assert samples[server.format("boom", "error")] == 1
    # A wrong argument name: the method exists, the caller erred.
    assert samples[server.format("echo", "rejected")] == 1
    # Unknown and private names never become labels.
    assert samples[server.format("<unknown>", "rejected")] == 2
    assert not [key for key in samples if "xxxxx" in key and key.startswith("svcframe_rpc_server")]
    assert samples[client.format("echo", "ok")] == 1
    assert samples[client.format("echo", "timeout")] == 1
    assert samples[client.format("echo", "error")] == 1


def test_a_request_that_does_not_end_is_logged_while_running(
    conf, transport, make_server, caplog, monkeypatch
):
    monkeypatch.setattr(tracking, "WATCH_INTERVAL", 0.05)
    conf.set_override("rpc_slow_call_threshold", 0.1)
    endpoint = Blocking()
    make_server([endpoint])
    ctxt = RequestContext(request_id="req-stuck")
    with caplog.at_level(logging.WARNING, logger="svcframe.messaging.slow"):
        client_for(transport).cast(ctxt.to_dict(), "wait", seconds=1.5)
        assert endpoint.started.wait(5)

        def logged():
            return [r.getMessage() for r in caplog.records if "req-stuck" in r.getMessage()]

        wait_until(logged, 5, message="the slow request logged")
        assert len(logged()) == 1
        assert "cast topic.wait (request req-stuck) still running after" in logged()[0]
        endpoint.release.set()
        wait_until(
            lambda: not [r for r in tracking.in_flight() if r.request_id == "req-stuck"],
            5,
            message="the slow request finished",
        )
    # Logged once: not again when it ends.
    assert len(logged()) == 1


_BROKEN_DIR_SCRIPT = textwrap.dedent(
    """
    import sys, uuid
    from oslo_config import cfg
    from svcframe import messaging, metrics
    from svcframe.conf import register_messaging_opts

    metrics.enable(sys.argv[1])  # a directory that does not exist: every write fails
    conf = cfg.ConfigOpts()
    register_messaging_opts(conf)
    conf([], project="t", default_config_files=[], default_config_dirs=[])
    transport = messaging.get_rpc_transport(conf, f"fake:///{uuid.uuid4().hex}")

    class Endpoint:
        def echo(self, ctxt, value):
            return value

    target = messaging.Target(topic="broken", server="h")
    server = messaging.get_rpc_server(transport, target, [Endpoint()])
    server.start()
    client = messaging.get_rpc_client(transport, target)
    print([client.call({}, "echo", value=n) for n in range(3)])
    server.stop()
    server.wait()
    transport.cleanup()
    """
)


def test_a_metric_that_cannot_be_written_costs_one_line_not_the_request(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", _BROKEN_DIR_SCRIPT, str(tmp_path / "gone")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0, 1, 2]"
    assert result.stderr.count("Could not record a metric") == 1, result.stderr
