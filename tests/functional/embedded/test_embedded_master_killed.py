"""svc-launch killed with SIGKILL on the embedded transport, then started again.

A conductor with two workers on the default transport (``transport_url``
unset: files in memory, under ``/dev/shm``, for its state_path) gets casts of ``create_task``
and calls while its master is killed with SIGKILL, alone or with its whole
process group (as the OOM killer or ``systemctl kill -s KILL`` do).  Workers
must not outlive their master: they see the end of its lifeline pipe and
stop.  Started again on the same state directory, the service gives back
what dead processes had claimed and processes every cast that was accepted,
before, during or after the outage: at least once, since a cast whose
worker died before acknowledging it runs again.
"""

import collections
import json
import os
import signal
import sqlite3
import sys
import threading
import time

import pytest

from svcframe import messaging
from svcframe.messaging.drivers.embedded import location
from svcframe.testing import wait_until

RUNTIME = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "runtime")
if RUNTIME not in sys.path:
    sys.path.insert(0, RUNTIME)

from runtime_harness import Launch, Load, alive, install_components  # noqa: E402

pytestmark = pytest.mark.slow

KIND = "master-killed"
WORKERS = 2
GRACE = 5
CALL_TIMEOUT = 5
# The first casts are sent at once, so that a backlog is being worked
# through, and some claimed, when the master dies.
BURST = 400
ACCEPTABLE_CALL_ERRORS = (
    messaging.MessagingTimeout,
    messaging.MessageDeliveryFailure,
    messaging.TransportUnavailable,
)


class CastSender(threading.Thread):
    """Casts ``create_task`` with n = 0, 1, ... until stopped; remembers which were accepted."""

    def __init__(self, client, first):
        super().__init__(name="cast-sender", daemon=True)
        self._cast = client.rpc.prepare()
        self._context = client.context
        self.next = first
        self.accepted = []
        self.refused = []
        self.stopping = threading.Event()

    def send(self, n):
        try:
            self._cast.cast(self._context, "create_task", kind=KIND, params={"n": n})
            self.accepted.append(n)
        except Exception as exc:  # noqa: BLE001 - judged by the test
            self.refused.append((n, exc))

    def run(self):
        while not self.stopping.is_set():
            self.send(self.next)
            self.next += 1
            self.stopping.wait(0.02)

    def stop(self):
        self.stopping.set()
        self.join(30)
        assert not self.is_alive(), "a cast hung"


def processed(state_path):
    """How many tasks of KIND each cast's n made (the conductor's own SQLite file)."""
    path = os.path.join(state_path, "services.sqlite")
    if not os.path.exists(path):
        return collections.Counter()
    db = sqlite3.connect(path, timeout=10)
    try:
        rows = db.execute("SELECT params FROM svcframe_tasks WHERE kind = ?", (KIND,)).fetchall()
    except sqlite3.OperationalError:  # the table is not there yet
        return collections.Counter()
    finally:
        db.close()
    return collections.Counter(json.loads(params)["n"] for (params,) in rows)


def claimed_files(state_path):
    """{queue: [claimed file names]} of the non-empty .claimed directories."""
    queues = os.path.join(location.default_data_dir(state_path), "queues")
    found = {}
    for queue in os.listdir(queues):
        folder = os.path.join(queues, queue, ".claimed")
        names = os.listdir(folder) if os.path.isdir(folder) else []
        if names:
            found[queue] = names
    return found


@pytest.fixture
def embedded_launch(tmp_path):
    """launch(**sections): a conductor on the embedded transport, killed (by pid) at the end."""
    components = install_components(str(tmp_path / "components"))
    runs = []

    def launch(**sections):
        directory = tmp_path / f"run{len(runs)}"
        directory.mkdir()
        run = Launch(directory, components, "conductor", WORKERS, **sections)
        del run.config["DEFAULT"]["transport_url"]
        run.configure()
        runs.append(run)
        return run.start()

    yield launch
    for run in runs:
        run.close()


@pytest.mark.parametrize("killed", ["master", "process group"])
def test_master_killed_under_load_loses_nothing_and_leaves_no_worker(embedded_launch, killed):
    first = embedded_launch(DEFAULT={"graceful_shutdown_timeout": GRACE})
    workers = first.wait_ready(timeout=60)
    state_path = str(first.state_path)
    # The casts' client only publishes; the callers' consumes replies, and
    # so would give dead processes' claims back itself: it is closed before
    # the restart, so that only the restarted service can.
    cast_client = first.client()
    call_client = first.client()
    try:
        with Load(lambda: call_client.call("describe", timeout=CALL_TIMEOUT), threads=2) as calls:
            calls.wait_successes(5, 30)
            casts = CastSender(cast_client, BURST)
            for n in range(BURST):
                casts.send(n)
            casts.start()
            wait_until(lambda: sum(processed(state_path).values()) >= 20, 30, message="casts run")

            if killed == "master":
                os.kill(first.pid, signal.SIGKILL)
            else:
                os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
            killed_at = time.monotonic()
            wait_until(
                lambda: not any(alive(pid) for pid in workers.values()),
                GRACE + 10,
                message=lambda: f"workers {workers} gone after their master:\n{first.stderr()}",
            )
            orphans_gone_after = time.monotonic() - killed_at
        call_client.close()
        left_claimed = sum(map(len, claimed_files(state_path).values()))

        second = embedded_launch(
            DEFAULT={
                "graceful_shutdown_timeout": GRACE,
                "state_path": state_path,
                "host": first.host,
            }
        )
        second.wait_ready(timeout=60)
        if left_claimed:
            second.wait_line("of exited process", timeout=30, count=left_claimed)
        with first.client() as caller:
            assert caller.call("describe", timeout=CALL_TIMEOUT)["service"] == "conductor"
        time.sleep(1)
        casts.stop()
        wanted = set(casts.accepted)
        wait_until(
            lambda: wanted <= set(processed(state_path)),
            60,
            message=lambda: f"{len(wanted - set(processed(state_path)))} casts not processed",
        )
        counts = processed(state_path)
    finally:
        cast_client.close()
        call_client.close()

    # Every cast accepted, before, during or after the outage, was processed.
    assert casts.refused == [], casts.refused[:5]
    assert set(counts) == wanted
    twice = sorted(n for n, count in counts.items() if count > 1)
    print(
        f"{killed}: {len(wanted)} casts, {len(twice)} processed twice, "
        f"{left_claimed} claims left by the dead, "
        f"workers gone {orphans_gone_after:.1f} s after their master"
    )
    assert all(counts[n] == 2 for n in twice), twice
    if killed == "master":
        # The workers stopped gracefully: what they had started was finished
        # and acknowledged, what they had claimed given back.
        assert first.count("is gone, stopping") == WORKERS, first.stderr()
        assert twice == []
        assert left_claimed == 0
    else:
        assert left_claimed, "no claim was left to recover: the kill came too late"
        # Only a cast run and not yet acknowledged runs twice.
        assert len(twice) <= left_claimed
    assert claimed_files(state_path) == {}

    # Calls in flight at the kill failed clearly, within their timeout.
    for outcome in calls.snapshot():
        if outcome.error is not None:
            assert isinstance(outcome.error, ACCEPTABLE_CALL_ERRORS), repr(outcome.error)
        assert outcome.finished - outcome.started <= CALL_TIMEOUT + 2, outcome

    # The restarted service stops cleanly.
    second_workers = second.workers()
    second.kill(signal.SIGTERM)
    assert second.wait(GRACE + 10) == 0, second.stderr()
    assert not any(alive(pid) for pid in second_workers.values())
    assert "Traceback" not in second.stderr(), second.stderr()
    assert [r for r in second.records() if r[2] in ("ERROR", "CRITICAL")] == []
