"""The broker goes away under call and cast load and comes back.

``stop_app`` for 10 s, or ``kill -9`` and a restart, in the three queue
modes.  No call may hang or fail with MessageDeliveryFailure, calls must
succeed again within 3 s of the broker being back, and in the durable and
quorum modes no cast may be lost.

"Succeed again" is measured by a prober that starts a short call as soon as
the broker is back, one after the other: the load's own callers may all be
waiting out the timeout of calls the outage lost (a clear error, allowed),
and would measure that timeout instead of the recovery.
"""

import time

import pytest
from chaos_harness import CallLoad, CastLoad, wait_processed
from conftest import full_only

pytestmark = pytest.mark.chaos

MODES = {
    "default": {},
    "durable": {"amqp_durable_queues": "true"},
    "quorum": {"rabbit_quorum_queue": "true"},
}
OUTAGE_SECONDS = 10
LOAD_BEFORE = 3
LOAD_AFTER = 10
RECOVERY_BAR = 3.0


def _outage(node, kind):
    """Take the broker away; the moment it accepts connections again."""
    if kind == "stop_app":
        node.stop_app()
        time.sleep(OUTAGE_SECONDS)
        node.start_app()
    else:
        node.kill()
        node.start()
    return time.monotonic()


def _first_call_back(prober, back_at, give_up=LOAD_AFTER):
    """Seconds from ``back_at`` to the first call that succeeds, probing one call at a time."""
    while time.monotonic() - back_at < give_up:
        try:
            prober.call("echo", timeout=2, value=1)
        except Exception:  # noqa: BLE001 - any failure: not back yet, try again
            time.sleep(0.05)
            continue
        return round(time.monotonic() - back_at, 2)
    return None


# The short run keeps the quorum kill: the queue mode and the outage that
# take the longest to recover from.
CASES = [
    pytest.param("default", "stop_app", marks=full_only),
    pytest.param("default", "kill", marks=full_only),
    pytest.param("durable", "stop_app", marks=full_only),
    pytest.param("durable", "kill", marks=full_only),
    pytest.param("quorum", "stop_app", marks=full_only),
    ("quorum", "kill"),
]


@pytest.mark.parametrize(("mode", "outage"), CASES)
def test_broker_outage_under_load(rabbit_node, launch, figures, mode, outage):
    run = launch(rabbit_node.url, workers=2, oslo_messaging_rabbit=MODES[mode]).start()
    run.wait_ready(timeout=60)
    with run.client() as caster, run.client() as caller, run.client() as prober:
        with CastLoad(caster, interval=0.01) as cast_load:
            with CallLoad(caller, threads=8, timeout=10) as call_load:
                call_load.wait_successes(50, 30)
                time.sleep(LOAD_BEFORE)
                down_at = time.monotonic()
                back_at = _outage(rabbit_node, outage)
                recovery = _first_call_back(prober, back_at)
                time.sleep(max(0.0, back_at + LOAD_AFTER - time.monotonic()))
            calls = call_load.report()
            recovered = [
                o.finished - back_at for o in call_load.successes() if o.finished > back_at
            ]
        report = wait_processed(run, cast_load.sent, timeout=60)

    figures(
        **report,
        cast_errors=len(cast_load.errors),
        **calls,
        outage_s=round(back_at - down_at, 1),
        calls_back_after_s=recovery,
        load_calls_back_after_s=round(min(recovered), 2) if recovered else None,
    )
    assert calls["hung"] == 0
    assert "MessageDeliveryFailure" not in calls["errors"], calls["errors"]
    assert recovery is not None and recovery < RECOVERY_BAR
    if mode != "default":
        assert report["lost"] == 0
