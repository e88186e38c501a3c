"""svc-launch --workers 4 with [metrics] port: a real Prometheus scrapes it.

The counts Prometheus stores must be what the test sent, added up over
every worker, including one killed half-way; /readyz follows the workers;
SIGUSR2 makes every worker write a report even while all its executor
threads are stuck.
"""

import os
import re
import signal
import socket
import stat
import uuid

import kombu
import pytest
from prometheus_server import PROMETHEUS, Prometheus, free_port, http_get
from runtime_harness import AMQP_URL

from svcframe.messaging import RemoteError
from svcframe.testing import wait_until

pytestmark = [pytest.mark.rabbit, pytest.mark.slow, pytest.mark.timeout(150)]

needs_prometheus = pytest.mark.skipif(
    not os.access(PROMETHEUS, os.X_OK), reason="the prometheus binary is not installed"
)


def status(base, path):
    try:
        return http_get(base + path, timeout=2)
    except OSError as exc:
        return None, str(exc)


@pytest.fixture
def prometheus(tmp_path):
    servers = []

    def start(target):
        directory = tmp_path / f"prometheus{len(servers)}"
        directory.mkdir()
        server = Prometheus(str(directory), target)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


def requests(outcome="ok", kind="call", method="describe"):
    return (
        f'sum(svcframe_rpc_server_requests_total{{topic="slowpoke",method="{method}",'
        f'kind="{kind}",outcome="{outcome}"}})'
    )


# As /metrics writes it: labels in alphabetical order.
CALLS_OK = (
    "svcframe_rpc_server_requests_total"
    '{kind="call",method="describe",outcome="ok",topic="slowpoke"}'
)


@needs_prometheus
def test_prometheus_counts_every_request_across_a_worker_kill(launch, prometheus):
    port = free_port()
    service = launch(binary="slowpoke", workers=4, metrics={"port": port})
    workers = service.wait_ready()
    base = f"http://127.0.0.1:{port}"
    assert status(base, "/readyz")[0] == 200
    assert status(base, "/healthz")[0] == 200
    prom = prometheus(f"127.0.0.1:{port}")
    with service.client() as client:
        for _ in range(20):
            client.call("describe")
        for _ in range(10):
            client.rpc.cast(client.context, "describe")
        with pytest.raises(RemoteError):
            client.call("no_such_method")
        # Every request is counted before a worker dies with its files.
        prom.wait_value(requests(), 20)
        prom.wait_value(requests(kind="cast"), 10)
        prom.wait_value(requests("rejected", method="<unknown>"), 1)

        os.kill(workers[2], signal.SIGKILL)
        code, body = wait_until(
            lambda: (reply := status(base, "/readyz"))[0] == 503 and reply,
            10,
            message="/readyz to answer 503",
            interval=0.01,
        )
        assert "workers ready" in body, body
        wait_until(
            lambda: status(base, "/readyz")[0] == 200, 20, message="/readyz to answer 200 again"
        )

        for _ in range(20):
            client.call("describe")
        for _ in range(10):
            client.rpc.cast(client.context, "describe")

    prom.wait_value(requests(), 40)
    prom.wait_value(requests(kind="cast"), 20)
    prom.wait_value('sum(svcframe_worker_restarts_total{reason="signal"})', 1)
    prom.wait_value('svcframe_workers{state="ready"}', 4)
    prom.wait_value('sum(svcframe_rpc_server_duration_seconds_count{method="describe"})', 60)
    prom.wait_value('sum(svcframe_rpc_in_flight{topic="slowpoke"})', 0)
    prom.wait_value('sum(svcframe_rpc_backlog{topic="slowpoke"})', 0)
    assert prom.scalar("svcframe_broker_connected") == 1
    assert prom.scalar('count(svcframe_build_info{component="slowpoke"})') == 1
    # The failed worker's counts stay; nothing else was restarted.
    assert prom.scalar("sum(svcframe_worker_restarts_total)") == 1


def test_sigusr2_reports_every_worker_while_its_threads_are_stuck(launch):
    port = free_port()
    service = launch(
        binary="slowpoke",
        workers=4,
        DEFAULT={"executor_thread_pool_size": 1},
        launcher={"worker_hang_timeout": 60},
        metrics={"port": port},
    )
    workers = service.wait_ready()
    with service.client() as client:
        # Each worker's only executor thread ends up asleep in sleep().
        for _ in range(12):
            client.rpc.cast(client.context, "sleep", seconds=60, token=uuid.uuid4().hex)

        def sleeping_pids():
            pids = set()
            for name in os.listdir(service.marker_dir):
                text = (service.marker_dir / name).read_text()
                if text:  # not half-written by the worker that is creating it
                    pids.add(int(text))
            return pids >= set(workers.values()) and pids

        wait_until(sleeping_pids, 30, message="every worker to be asleep in sleep()")

    def in_flight():
        code, text = status(f"http://127.0.0.1:{port}", "/metrics")
        return code == 200 and 'svcframe_rpc_in_flight{topic="slowpoke"} 4.0' in text

    # Sampled by a thread of each worker: it too works while the executor is stuck.
    wait_until(in_flight, 10, message="four requests in flight in /metrics")

    service.kill(signal.SIGUSR2)
    reports = service.state_path / "reports"

    def written():
        if not reports.is_dir():
            return False
        files = [reports / name for name in os.listdir(reports)]
        return len(files) >= 4 and files

    files = wait_until(written, 20, message="four reports")
    assert stat.S_IMODE(os.stat(reports).st_mode) == 0o700
    by_pid = {}
    for path in files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        text = path.read_text()
        by_pid[int(path.name.rsplit("-", 2)[1])] = text
    assert set(by_pid) == set(workers.values())
    for text in by_pid.values():
        assert "runtime_components.py" in text and "in sleep" in text, text
        assert "cast slowpoke.sleep request_id=req-" in text, text
        assert "0/1 threads" not in text and "1/1 threads, requests: 1 running" in text, text
        assert "rpc-server slowpoke: connected" in text, text
        assert re.search(r"^transport_url +=  ?\*\*\*\*$", text, re.M), text
        assert "guest:guest" not in text
    # Each worker logs the report's path after writing it.
    wait_until(lambda: service.count("Report written to") == 4, 10, message="four log lines")
    assert service.proc.poll() is None


def test_one_worker_serves_metrics_health_and_reports_in_process(launch):
    port = free_port()
    service = launch(binary="slowpoke", workers=1, metrics={"port": port})
    service.wait_line("Service ready", timeout=20)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: status(base, "/readyz")[0] == 200, 10, message="/readyz to answer 200")
    with service.client() as client:
        for _ in range(5):
            client.call("describe")

    def counted():
        # Figures reach /metrics through the worker's writer thread, a few
        # milliseconds after the replies.
        code, text = status(base, "/metrics")
        assert code == 200
        samples = dict(
            line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#")
        )
        return samples if float(samples.get(CALLS_OK, 0)) == 5 else None

    samples = wait_until(counted, 10, message="the five calls in /metrics")
    assert float(samples['svcframe_workers{state="ready"}']) == 1
    metrics_dir = service.state_path / "metrics" / f"svc-slowpoke-{port}"
    assert stat.S_IMODE(os.stat(metrics_dir).st_mode) == 0o700

    service.kill(signal.SIGUSR2)
    service.wait_line("Report written to", timeout=10)
    (report,) = os.listdir(service.state_path / "reports")
    assert "Requests in flight" in (service.state_path / "reports" / report).read_text()

    service.kill(signal.SIGTERM)
    assert service.wait(timeout=20) == 0, service.stderr()


def test_a_hung_worker_is_counted_as_such(launch):
    port = free_port()
    service = launch(binary="slowpoke", workers=2, metrics={"port": port})
    workers = service.wait_ready()
    base = f"http://127.0.0.1:{port}"
    os.kill(workers[1], signal.SIGSTOP)
    service.wait_line("hung: no heartbeat", timeout=20)

    def restarts():
        code, text = status(base, "/metrics")
        return code == 200 and 'svcframe_worker_restarts_total{reason="hung"} 1.0' in text

    wait_until(restarts, 20, message="the hung restart in /metrics")
    wait_until(lambda: status(base, "/readyz")[0] == 200, 20, message="/readyz to answer 200 again")
    assert status(base, "/healthz")[0] == 200


@pytest.mark.parametrize("workers", [1, 4])
def test_a_taken_metrics_port_stops_the_start_with_one_line(launch, workers):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        service = launch(binary="slowpoke", workers=workers, metrics={"port": port})
        assert service.wait(timeout=30) == 2
    assert f"svc-launch: error: cannot listen on [metrics] 127.0.0.1:{port}: " in service.stderr()
    assert "Traceback" not in service.stderr()
    assert not service.all_worker_pids()


def test_a_rolling_restart_counts_reload_restarts_and_keeps_counts(launch):
    port = free_port()
    service = launch(binary="slowpoke", workers=2, metrics={"port": port})
    service.wait_ready()
    base = f"http://127.0.0.1:{port}"
    with service.client() as client:
        for _ in range(6):
            client.call("describe")
        service.configure(DEFAULT={"executor_thread_pool_size": 16})
        service.kill(signal.SIGHUP)
        service.wait_line("Reload done", timeout=30)
        for _ in range(4):
            client.call("describe")

    def counted():
        code, text = status(base, "/metrics")
        return (
            code == 200
            and 'svcframe_worker_restarts_total{reason="reload"} 2.0' in text
            and CALLS_OK + " 10.0" in text
        )

    wait_until(
        counted,
        20,
        message=lambda: f"2 reload restarts, 10 calls in:\n{status(base, '/metrics')[1]}",
    )
    assert status(base, "/readyz")[0] == 200


def test_unreadable_messages_are_counted_by_reason_and_calls_go_on(launch):
    port = free_port()
    service = launch(binary="slowpoke", workers=1, metrics={"port": port})
    service.wait_line("Service ready", timeout=20)
    with kombu.Connection(AMQP_URL, connect_timeout=5) as connection:
        producer = connection.Producer(serializer=None)
        for body in (b"not json", b'{"oslo.version": "9.9", "oslo.message": "{}"}'):
            producer.publish(
                body,
                exchange=service.exchange,
                routing_key=f"slowpoke.{service.host}",
                content_type="application/json",
            )
    with service.client() as client:
        assert client.call("describe")["host"] == service.host

    def counted():
        code, text = status(f"http://127.0.0.1:{port}", "/metrics")
        lines = [line for line in text.splitlines() if line.startswith("svcframe_messages_mal")]
        return code == 200 and len(lines) == 2 and lines

    lines = wait_until(counted, 10, message="two malformed messages in /metrics")
    assert all(line.endswith(" 1.0") for line in lines), lines
    assert any('reason="UnsupportedEnvelopeVersion"' in line for line in lines), lines
