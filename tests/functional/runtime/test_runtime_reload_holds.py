"""Every worker serves the configuration on disk: after a reload, a respawn, a roll.

The greeter component caches its option the way the component guide says
(read in ``__init__``, read again in ``reset()``).  Eight callers keep
calling while the configuration changes; once the launcher says the change
is done, no reply may carry another value.  "Done" is what an operator sees:
``READY=1`` after ``RELOADING=1`` on the NOTIFY_SOCKET for a reload, the
master's "ready" line for a respawned worker.
"""

import os
import signal
import time

import pytest
from runtime_harness import Load, NotifySocket, wait_for

pytestmark = [pytest.mark.rabbit, pytest.mark.slow, pytest.mark.timeout(150)]

# How long the callers go on once a change is done: enough calls to reach
# every worker many times, bounded so that the test stays short.
SETTLE = 1.5


def _stale(outcomes, since, greeting, debug=None):
    """Replies to calls started after ``since`` that do not show the expected configuration."""
    return [
        o
        for o in outcomes
        if o.error is None
        and o.started > since
        and (o.result["greeting"] != greeting or (debug is not None and o.result["debug"] != debug))
    ]


def _answered(outcomes, since):
    return {o.result["pid"] for o in outcomes if o.error is None and o.started > since}


class Stages:
    """The load test's bookkeeping: one entry per stage, stale replies counted."""

    def __init__(self, service, load):
        self.service = service
        self.load = load
        self.results = []

    def check(self, name, done_at, greeting, debug=None):
        time.sleep(SETTLE)
        pids = set(self.service.workers().values())
        wait_for(
            lambda: pids <= _answered(self.load.snapshot(), done_at),
            10,
            lambda: f"every worker {pids} answering after {name}",
        )
        stale = _stale(self.load.snapshot(), done_at, greeting, debug)
        self.results.append((name, len(stale), stale[:3]))
        return pids


def _reload(service, notify, **sections):
    service.configure(**sections)
    seen = []
    service.kill(signal.SIGHUP)
    notify.wait_for("RELOADING", 20, seen)
    notify.wait_for("READY", 40, seen)
    return time.monotonic()


def _respawned(service, number, old_pid):
    new_pid = wait_for(
        lambda: service.workers().get(number) != old_pid and service.workers().get(number),
        20,
        f"worker {number} respawned",
    )
    service.wait_line(f"Worker {number} of 2 (pid {new_pid}) ready", timeout=20)
    return new_pid, time.monotonic()


@pytest.fixture
def notify(tmp_path):
    socket = NotifySocket(tmp_path / "notify.sock")
    yield socket
    socket.close()


def test_reload_respawn_and_roll_all_serve_the_configuration_on_disk(launch, notify):
    service = launch(
        binary="greeter",
        workers=2,
        env={"NOTIFY_SOCKET": notify.path},
        DEFAULT={"executor_thread_pool_size": 64},
    )
    service.wait_ready()
    notify.wait_for("READY", 20, [])

    with service.client() as client:
        with Load(lambda: client.call("hello", timeout=10)) as load:
            stages = Stages(service, load)
            load.wait_successes(50, timeout=10)

            # A mutable option, and debug logging.
            done = _reload(
                service, notify, DEFAULT={"debug": "true"}, greeter={"greeting": "Bonjour"}
            )
            stages.check("mutable reload", done, "Bonjour", debug=True)

            # A worker dies: its replacement starts after the reload.
            victim = service.workers()[1]
            os.kill(victim, signal.SIGKILL)
            respawned, done = _respawned(service, 1, victim)
            stages.check("respawn after kill -9", done, "Bonjour", debug=True)

            # An option that needs a restart: every worker is replaced.
            done = _reload(
                service,
                notify,
                DEFAULT={"executor_thread_pool_size": 16},
                greeter={"greeting": "Hola"},
            )
            rolled = stages.check("rolling restart", done, "Hola", debug=True)

    print("stale replies per stage:", [(name, count) for name, count, _ in stages.results])
    assert load.failures() == []
    assert [(name, count) for name, count, _ in stages.results] == [
        ("mutable reload", 0),
        ("respawn after kill -9", 0),
        ("rolling restart", 0),
    ], stages.results
    assert respawned not in rolled
    # The respawned worker logs at DEBUG, as the others do.
    assert any(
        pid == respawned and level == "DEBUG" and message.startswith("Greeting with 'Bonjour'")
        for pid, _, level, _, message in service.records()
    )

    service.kill(signal.SIGTERM)
    assert service.wait(timeout=20) == 0
