"""Workers killed, stopped and reloaded under load: nothing accepted is lost.

Each test runs svc-launch with the chaos component on a private broker,
sends casts whose ids the workers write down once processed, and counts
the casts lost (sent, never written down) and run twice.
"""

import os
import signal
import time

import pytest
from chaos_harness import CallLoad, CastLoad, alive, send_casts, wait_processed
from conftest import full_only

from svcframe.testing import wait_until

pytestmark = pytest.mark.chaos


def test_sigkill_with_casts_queued_after_processing(rabbit_node, launch, figures):
    casts = 400
    run = launch(
        rabbit_node.url,
        workers=2,
        DEFAULT={"executor_thread_pool_size": 4, "rpc_ack_mode": "after_processing"},
    ).start()
    workers = run.wait_ready(timeout=60)
    with run.client() as client:
        sent = send_casts(client, casts, seconds=0.05)
        # Kill a worker while it holds part of the backlog.
        wait_until(lambda: len(run.processed()) >= casts // 4, 60, message="a quarter processed")
        os.kill(workers[1], signal.SIGKILL)
        report = wait_processed(run, sent, timeout=90)

    figures(**report, killed_at=casts // 4)
    assert report["lost"] == 0


def test_workers_killed_every_3_s_under_call_and_cast_load(rabbit_node, launch, figures):
    kills = 5
    run = launch(rabbit_node.url, workers=4, DEFAULT={"executor_thread_pool_size": 8}).start()
    run.wait_ready(timeout=60)
    killed = []
    with run.client() as caster, run.client() as caller:
        with CastLoad(caster, seconds=0.02, interval=0.005) as cast_load:
            with CallLoad(caller, threads=8, timeout=10) as call_load:
                for _ in range(kills):
                    time.sleep(3)
                    victim = _any_live_worker(run, killed)
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)
                time.sleep(3)
            calls = call_load.report()
        report = wait_processed(run, cast_load.sent, timeout=60)

    figures(**report, cast_errors=len(cast_load.errors), **calls, kills=len(killed))
    assert report["lost"] == 0
    assert calls["hung"] == 0
    assert set(calls["errors"]) <= {"MessagingTimeout"}, calls["errors"]


def _any_live_worker(run, killed):
    live = [pid for pid in run.workers().values() if pid not in killed and alive(pid)]
    assert live, "no live worker to kill"
    return live[0]


def test_sigterm_with_casts_queued_requeues_the_rest(rabbit_node, launch, figures):
    casts = 600
    options = {"executor_thread_pool_size": 1, "graceful_shutdown_timeout": 10}
    run = launch(rabbit_node.url, workers=1, DEFAULT=options).start()
    run.wait_ready(timeout=60)
    with run.client() as client:
        sent = send_casts(client, casts, seconds=0.05)
    wait_until(lambda: len(run.processed()) >= 20, 60, message="20 casts processed")
    stopped_at = time.monotonic()
    run.kill(signal.SIGTERM)
    status = run.wait(timeout=60)
    stop_seconds = time.monotonic() - stopped_at
    before_stop = len(run.processed())

    # A new run of the same service picks up what the first one handed back.
    again = launch(
        rabbit_node.url,
        workers=1,
        DEFAULT={
            "host": run.host,
            "control_exchange": run.exchange,
            "executor_thread_pool_size": 16,
        },
    ).start()
    again.wait_ready(timeout=60)
    report = wait_processed(_Both(run, again), sent, timeout=60)

    figures(
        **report,
        processed_before_stop=before_stop,
        exit_status=status,
        stop_seconds=round(stop_seconds, 1),
    )
    assert report["lost"] == 0
    assert status == 0


class _Both:
    def __init__(self, *runs):
        self.runs = runs

    def processed(self):
        return [cast_id for run in self.runs for cast_id in run.processed()]


# The launcher suite reloads under load too; five reloads take a minute.
@full_only
def test_sighup_five_times_under_eight_callers(rabbit_node, launch, figures):
    reloads = 5
    run = launch(rabbit_node.url, workers=4).start()
    run.wait_ready(timeout=60)
    with run.client() as client:
        with CallLoad(client, threads=8, timeout=10) as call_load:
            call_load.wait_successes(100, 30)
            for n in range(1, reloads + 1):
                run.kill(signal.SIGHUP)
                run.wait_line("Reload done", timeout=60, count=n)
                call_load.wait_successes(100, 30, after=time.monotonic())
        calls = call_load.report()

    figures(**calls, reloads=reloads)
    assert calls["errors"] == {}
    assert calls["hung"] == 0
