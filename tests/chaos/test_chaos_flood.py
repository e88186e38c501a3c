"""Floods: many casts to a slow method, many malformed messages between valid calls.

A worker's memory must follow what it runs, not what the broker holds, and
hostile traffic must neither stop valid calls nor fill the log.
"""

import json
import threading
import time

import kombu
import pytest
from chaos_harness import rss_kb, send_casts, wait_processed
from conftest import scale

pytestmark = pytest.mark.chaos

MB = 1024


class RSSSampler:
    """The peak resident set size of a process, sampled every ``interval`` seconds."""

    def __init__(self, pid, interval=0.2):
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)

    def _run(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_kb(self.pid) or 0)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()


# 50,000 x 10 ms on 4 threads: two minutes at best, ten on a busy machine.
@pytest.mark.timeout(scale(300, 1800))
def test_many_casts_to_a_slow_method_keep_memory_flat(rabbit_node, launch, figures):
    casts = scale(2_000, 50_000)
    run = launch(rabbit_node.url, workers=1, DEFAULT={"executor_thread_pool_size": 4}).start()
    ((_, pid),) = run.wait_ready(timeout=60).items()
    with run.client() as client:
        # Warm up: the first casts load code and fill caches.
        wait_processed(run, send_casts(client, 200), timeout=60)
        baseline = rss_kb(pid)
        with RSSSampler(pid) as rss:
            started = time.monotonic()
            sent = send_casts(client, casts, seconds=0.01)
            sent_seconds = time.monotonic() - started
            report = wait_processed(run, sent, timeout=casts * 0.03 + 120)
            seconds = time.monotonic() - started
        after = rss_kb(pid)

    growth_mb = (rss.peak - baseline) / MB
    figures(
        **report,
        rss_baseline_mb=round(baseline / MB, 1),
        rss_peak_mb=round(rss.peak / MB, 1),
        rss_after_mb=round(after / MB, 1),
        growth_mb=round(growth_mb, 1),
        send_s=round(sent_seconds, 1),
        total_s=round(seconds, 1),
    )
    assert report["lost"] == 0
    assert growth_mb < 20


def nested(depth):
    return "[" * depth + "]" * depth


def _request(**fields):
    inner = {"method": "echo", "args": {"value": 1}, "_unique_id": "x"}
    inner.update(fields)
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)})


def malformed_messages():
    """(body, headers) of the kinds of malformed message, sent in turn."""
    return [
        (b"this is not JSON {", {}),
        (b"\xff\xfe garbage", {}),
        (json.dumps({"oslo.version": "2.0", "oslo.message": nested(10_000)}), {}),
        (_request(method="no_such_method_" + "m" * 2000), {}),
        (_request(version=[1]), {}),
        (_request(namespace=[1]), {}),
        (_request(args=["value", 1]), {}),
        (_request(), {"compression": "application/x-nonsense"}),
        (json.dumps({"oslo.version": "3.0", "oslo.message": "{}"}), {}),
        (_request(args={"valeu": 1}), {}),
    ]


@pytest.mark.timeout(scale(300, 900))
def test_malformed_messages_between_valid_calls(rabbit_node, launch, figures):
    valid_calls = scale(200, 1_000)
    per_call = 10
    run = launch(rabbit_node.url, workers=1).start()
    ((_, pid),) = run.wait_ready(timeout=60).items()
    kinds = malformed_messages()
    one_mb_method = _request(method="m" * 1024 * 1024)
    with run.client() as client, kombu.Connection(rabbit_node.amqp_url) as conn:
        channel = conn.channel()
        exchange = kombu.Exchange(run.exchange, type="topic", durable=False)
        producer = kombu.Producer(channel, exchange=exchange)
        assert client.call("echo", value="ready") == "ready"
        baseline = rss_kb(pid)
        lines_before = run.log_line_count()
        ok = failed = sent_bad = 0
        started = time.monotonic()
        with RSSSampler(pid) as rss:
            for n in range(valid_calls):
                for i in range(per_call):
                    body, headers = kinds[(n * per_call + i) % len(kinds)]
                    if (n * per_call + i) % 1000 == 999:
                        body = one_mb_method
                    producer.publish(
                        body,
                        routing_key=f"{run.topic}.{run.host}",
                        content_type="application/json",
                        content_encoding="utf-8",
                        headers=headers,
                        declare=[],
                    )
                    sent_bad += 1
                try:
                    ok += client.call("echo", timeout=30, value=n) == n
                except Exception:  # noqa: BLE001 - counted
                    failed += 1
            seconds = time.monotonic() - started
            time.sleep(1)
        lines = run.log_line_count() - lines_before
        after = rss_kb(pid)

    growth_mb = (rss.peak - baseline) / MB
    figures(
        malformed=sent_bad,
        valid=f"{ok}/{valid_calls}",
        failed=failed,
        log_lines=lines,
        rss_baseline_mb=round(baseline / MB, 1),
        rss_peak_mb=round(rss.peak / MB, 1),
        rss_after_mb=round(after / MB, 1),
        growth_mb=round(growth_mb, 1),
        seconds=round(seconds, 1),
    )
    assert ok == valid_calls
    assert growth_mb < 30
    assert lines < 500
