"""Every worker serves the configuration on disk: after a reload, a respawn, a roll.

The greeter component caches its option the way the component guide says
(read in ``__init__``, read again in ``reset()``).  Eight callers keep
calling while the configuration changes; once the launcher says the change
is done, no reply may carry another value.  "Done" is what an operator sees:
``READY=1`` after ``RELOADING=1`` on the NOTIFY_SOCKET for a reload, the
master's "ready" line for a respawned worker.
"""

import json
import os
import re
import signal
import time

import pytest
from runtime_harness import SVC_MANAGE, Load, NotifySocket, alive, run_cli

from svcframe.messaging import MessagingTimeout
from svcframe.testing import wait_until

pytestmark = [pytest.mark.rabbit, pytest.mark.slow, pytest.mark.timeout(150)]

COMPONENT_LOGGER = "tests.functional.runtime.runtime_components"

# How long the callers go on once a change is done: enough calls to reach
# every worker many times, bounded so that the test stays short.
SETTLE = 1.5


def _state(pid):
    with open(f"/proc/{pid}/stat") as stream:
        return stream.read().rsplit(")", 1)[1].split()[0]


def _stop_worker(pid, signum):
    """Send ``signum`` to a worker; returns once it has stopped running (dead or stopped).

    A call request is acknowledged when the worker starts on it, as
    oslo.messaging does: the calls a worker had started when it stopped
    are lost with it (their callers time out), those it had not started
    go to another worker.

    :returns: (when the signal was sent, when the worker stopped running).
    """
    sent = time.monotonic()
    os.kill(pid, signum)
    wait_until(lambda: not alive(pid) or _state(pid) == "T", 10, message=f"pid {pid} stopped")
    return sent, time.monotonic()


# A call the worker started had reached it this long before the signal at most.
IN_FLIGHT = 2.0


def assert_only_lost_with(load, window):
    """Every failed call was a timeout of a call in flight when a worker stopped running."""
    sent, stopped = window
    lost = [
        o
        for o in load.failures()
        if isinstance(o.error, MessagingTimeout) and sent - IN_FLIGHT < o.started < stopped
    ]
    assert load.failures() == lost
    # At most one call per caller.
    assert len(lost) <= 8


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
        wait_until(
            lambda: pids <= _answered(self.load.snapshot(), done_at),
            10,
            message=lambda: f"every worker {pids} answering after {name}",
        )
        stale = _stale(self.load.snapshot(), done_at, greeting, debug)
        self.results.append((name, len(stale), stale[:3]))
        return pids


def _title(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as stream:
        return stream.read().split(b"\0")[0].decode()


def _config_of(pid):
    """(generation, digest) in a process title."""
    match = re.search(r" \[config (\d+) ([0-9a-f]{8})\]$", _title(pid))
    assert match, _title(pid)
    return int(match[1]), match[2]


def _ping(client):
    return client.rpc.prepare(namespace="baseapi", version="1.0", timeout=10).call(
        client.context, "ping", arg="test"
    )


def assert_one_configuration(service, client, generation):
    """The master and every worker show ``generation`` and one digest; so do pings.

    :returns: the digest.
    """
    master = _config_of(service.pid)
    assert master[0] == generation
    workers = set(service.workers().values())
    assert {_config_of(pid) for pid in workers} == {master}
    replies = [_ping(client) for _ in range(6)]
    assert {r["pid"] for r in replies} <= workers
    assert {(r["config_generation"], r["config_digest"], r["config_workers"]) for r in replies} == {
        (generation, master[1], f"{len(workers)}/{len(workers)}")
    }
    assert {r["service"] for r in replies} == {"greeter"}
    return master[1]


def _reload(service, notify, **sections):
    service.configure(**sections)
    seen = []
    service.kill(signal.SIGHUP)
    notify.wait_for("RELOADING", 20, seen)
    notify.wait_for("READY", 40, seen)
    return time.monotonic()


def _respawned(service, number, old_pid):
    new_pid = wait_until(
        lambda: service.workers().get(number) != old_pid and service.workers().get(number),
        20,
        message=f"worker {number} respawned",
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
        digests = [assert_one_configuration(service, client, 0)]
        with Load(lambda: client.call("hello", timeout=10)) as load:
            stages = Stages(service, load)
            load.wait_successes(50, timeout=10)

            # A mutable option, and debug logging.
            done = _reload(
                service, notify, DEFAULT={"debug": "true"}, greeter={"greeting": "Bonjour"}
            )
            stages.check("mutable reload", done, "Bonjour", debug=True)
            digests.append(assert_one_configuration(service, client, 1))

            # A worker dies: its replacement starts after the reload.
            victim = service.workers()[1]
            killed = _stop_worker(victim, signal.SIGKILL)
            respawned, done = _respawned(service, 1, victim)
            stages.check("respawn after kill -9", done, "Bonjour", debug=True)
            digests.append(assert_one_configuration(service, client, 1))

            # Options that need a restart: every worker is replaced.  The
            # new ones keep debug on, and follow the new logger levels.
            done = _reload(
                service,
                notify,
                DEFAULT={
                    "executor_thread_pool_size": 16,
                    "default_log_levels": f"amqp=WARN,kombu=WARN,{COMPONENT_LOGGER}=INFO",
                },
                greeter={"greeting": "Hola"},
            )
            rolled = stages.check("rolling restart", done, "Hola", debug=True)
            digests.append(assert_one_configuration(service, client, 2))

        # What an operator runs to see that every worker reloaded.
        result = run_cli(
            SVC_MANAGE,
            "--config-file",
            str(service.conf_path),
            "rpc",
            "ping",
            "greeter",
            "--all",
            "--format",
            "json",
        )
        assert result.returncode == 0, result.stderr
        (row,) = json.loads(result.stdout)
        assert row["host"] == service.host and row["result"] == "ok"
        assert (row["config_generation"], row["config_digest"], row["config_workers"]) == (
            2,
            digests[-1],
            "2/2",
        )

    print("stale replies per stage:", [(name, count) for name, count, _ in stages.results])
    assert_only_lost_with(load, killed)
    assert [(name, count) for name, count, _ in stages.results] == [
        ("mutable reload", 0),
        ("respawn after kill -9", 0),
        ("rolling restart", 0),
    ], stages.results
    assert respawned not in rolled
    # Same files, same digest; a change, another one.
    assert digests[1] == digests[2] and len({digests[0], digests[1], digests[3]}) == 3
    # The respawned worker logs at DEBUG, as the others do; the rolled
    # ones follow default_log_levels, which hushes the component's logger.
    records = service.records()
    assert any(
        pid == respawned and level == "DEBUG" and message.startswith("Greeting with 'Bonjour'")
        for pid, _, level, _, message in records
    )
    assert not [r for r in records if r[3] == COMPONENT_LOGGER and "'Hola'" in r[4]]

    service.kill(signal.SIGTERM)
    assert service.wait(timeout=20) == 0


def test_a_worker_replaced_for_hanging_serves_the_configuration_on_disk(launch, notify):
    service = launch(binary="greeter", workers=2, env={"NOTIFY_SOCKET": notify.path})
    service.wait_ready()
    notify.wait_for("READY", 20, [])

    with service.client() as client:
        with Load(lambda: client.call("hello", timeout=15)) as load:
            stages = Stages(service, load)
            load.wait_successes(50, timeout=10)
            done = _reload(service, notify, greeter={"greeting": "Bonjour"})
            stages.check("mutable reload", done, "Bonjour")

            hung = service.workers()[2]
            stopped = _stop_worker(hung, signal.SIGSTOP)
            service.wait_line(f"Worker 2 (pid {hung}) hung", timeout=20)
            replacement, done = _respawned(service, 2, hung)
            stages.check("hang-detected replacement", done, "Bonjour")
        assert_one_configuration(service, client, 1)

    assert_only_lost_with(load, stopped)
    assert [(name, count) for name, count, _ in stages.results] == [
        ("mutable reload", 0),
        ("hang-detected replacement", 0),
    ], stages.results
    service.kill(signal.SIGTERM)
    assert service.wait(timeout=20) == 0


def _reload_lines(service, count):
    """What the master logged at WARNING or above since its ``count``-th SIGHUP."""
    records = [r for r in service.records() if r[1] == "master"]
    starts = [i for i, r in enumerate(records) if r[4].startswith("Caught SIGHUP")]
    return [r[4] for r in records[starts[count - 1] :] if r[2] in ("WARNING", "ERROR")]


def test_a_failed_reload_keeps_every_worker_on_the_last_good_configuration(launch, notify):
    service = launch(binary="greeter", workers=2, env={"NOTIFY_SOCKET": notify.path})
    service.wait_ready()
    notify.wait_for("READY", 20, [])

    with service.client() as client:
        _reload(service, notify, greeter={"greeting": "Bonjour"})
        good = assert_one_configuration(service, client, 1)

        # An invalid value, next to a valid change that must not apply either.
        _reload(
            service, notify, DEFAULT={"executor_thread_pool_size": 0}, greeter={"greeting": "Ciao"}
        )
        assert _reload_lines(service, 2) == [
            f"Reload failed, keeping configuration 1 ({good}): invalid value of [DEFAULT] "
            "executor_thread_pool_size: Should be greater than or equal to 1"
        ]
        # A file that does not parse.
        service.conf_path.write_text(service.conf_path.read_text() + "[greeter\n")
        seen = []
        service.kill(signal.SIGHUP)
        notify.wait_for("RELOADING", 20, seen)
        notify.wait_for("READY", 20, seen)
        (failed,) = _reload_lines(service, 3)
        assert failed.startswith(
            f"Reload failed, keeping configuration 1 ({good}): Failed to parse {service.conf_path}"
        )

        # Workers started from now on get the last good configuration.
        victim = service.workers()[1]
        os.kill(victim, signal.SIGKILL)
        respawned, _ = _respawned(service, 1, victim)
        pids = set(service.workers().values())
        greetings = {}
        wait_until(
            lambda: (
                greetings.update({r["pid"]: r["greeting"] for r in [client.call("hello")]})
                or set(greetings) >= pids
            ),
            20,
            message=lambda: f"replies from {pids}: {greetings}",
        )
        assert {greetings[pid] for pid in pids} == {"Bonjour"}
        assert assert_one_configuration(service, client, 1) == good

    service.kill(signal.SIGTERM)
    assert service.wait(timeout=20) == 0


def test_one_process_applies_mutable_options_and_names_the_others_once(launch):
    service = launch(binary="greeter", workers=1)
    service.wait_line("Service ready", timeout=20)

    with service.client() as client:
        assert client.call("hello")["greeting"] == "Hello"
        before = _config_of(service.pid)
        assert before[0] == 0
        service.configure(
            DEFAULT={"executor_thread_pool_size": 16}, greeter={"greeting": "Bonjour"}
        )
        service.kill(signal.SIGHUP)
        service.wait_line("Reload done")
        assert client.call("hello")["greeting"] == "Bonjour"
        reply = _ping(client)

    generation, digest = _config_of(service.pid)
    assert (generation, reply["config_generation"]) == (1, 1)
    assert reply["config_digest"] == digest != before[1]
    assert reply["config_workers"] is None
    warnings = [r[4] for r in service.records() if r[2] == "WARNING"]
    assert warnings == [
        "Options that need a restart changed, not applied until the service restarts: "
        "[DEFAULT] executor_thread_pool_size"
    ]
    service.kill(signal.SIGTERM)
    assert service.wait(timeout=20) == 0
