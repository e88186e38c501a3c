"""A rolling upgrade of the agents on RabbitMQ, with ``[upgrade_levels]``.

The deployment runs two agents: ``old1`` runs the previous release, which
called the component worker and speaks its API 1.0 only
(``walkthrough_old_worker.py``, registered as svc-worker), ``new1`` the
current one (1.1: ``run_task`` takes ``progress_interval``; launched as
``agent``, registered as svc-agent).  Two schedulers place the tasks,
chosen with ``svc-manage rpc call --server``: one (two processes) with
``[upgrade_levels] worker = alpha`` (1.0), the option's name in the
previous release, as schedulers are configured while old agents remain,
and one without.  A task goes to the one agent left enabled in the
service registry.  The tests run in file order: the last one upgrades
``old1`` keeping the deprecated name ``--binary worker``, then lifts the
cap with SIGHUP.
"""

import contextlib
import os
import signal

import pytest
from walkthrough_deployment import Deployment

from svcframe.conf.conductor import STALE_CHECK_SPACING
from svcframe.testing import wait_until

pytestmark = [pytest.mark.rabbit, pytest.mark.slow, pytest.mark.timeout(120)]

HERE = os.path.dirname(os.path.abspath(__file__))
OLD_WORKER = os.path.join(HERE, "walkthrough_old_worker.py")
KINDS = ["fail", "sleep", "sum"]
# Registered names: old1's (the previous release's), new1's.
AGENT_BINARIES = ("svc-worker", "svc-agent")
STALE_TASK_AFTER = 3
# A current agent reports progress only when run_task 1.1 asks it to.
QUIET_AGENT = {"progress_interval": 60}
RENAMED = "The component name 'worker' is deprecated"
SLOW_TASK = ("sleep", {"seconds": 3})
REFUSED_1_1 = (
    "Rejected an RPC request: Endpoint does not support RPC version 1.1. Attempted method: run_task"
)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("upgrade"), "upgrade")
    try:
        d.conductor = d.start(
            "conductor", d.host("control"), conductor={"stale_task_after": STALE_TASK_AFTER}
        )
        d.capped = d.start(
            "scheduler", d.host("sched-capped"), workers=2, upgrade_levels={"worker": "alpha"}
        )
        d.uncapped = d.start("scheduler", d.host("sched-new"))
        d.wait_ready(d.conductor, d.capped, d.uncapped)
        d.old1 = d.start("worker", d.host("old1"), script=OLD_WORKER)
        d.new1 = d.start("agent", d.host("new1"), agent=QUIET_AGENT)
        d.wait_ready(d.old1, d.new1)
        for scheduler in (d.capped, d.uncapped):
            for agent in (d.old1, d.new1):
                scheduler.wait_line(
                    f"Agent {agent.host} announced: {', '.join(KINDS)}",
                    count=scheduler.workers_count,
                )
        yield d
    finally:
        d.close()


def registered(run):
    """The binary name ``run`` registers under: svc- and the name it was launched as."""
    return f"svc-{run.binary}"


@contextlib.contextmanager
def only(d, agent):
    """Disable every other agent in the service registry while the block runs."""
    others = [run for run in (d.old1, d.new1) if run.host != agent.host]
    for run in others:
        result = d.manage("service", "disable", run.host, registered(run))
        assert result.returncode == 0, result.stderr
    try:
        yield
    finally:
        for run in others:
            d.manage("service", "enable", run.host, registered(run))


def serving(agent, version):
    """How many processes of ``agent`` logged that they serve the worker topic at ``version``."""
    # The topic keeps its name from the previous release: it is the wire's.
    return agent.count(
        f"{registered(agent)} serving topic 'worker' as server '{agent.host}' (API {version}, "
    )


def pinged_versions(d):
    """{host: (API version, release)} of every agent, from ``rpc ping worker --all``."""
    rows = d.manage_json("rpc", "ping", "worker", "--all")
    assert {row["result"] for row in rows} == {"ok"}, rows
    return {row["host"]: (row["api_version"], row["release"]) for row in rows}


def listed_versions(d):
    """{(binary, host): (API version, release)} of every agent, from ``service list``."""
    return {
        (binary, s["host"]): (s["rpc_api_version"], s["release"])
        for binary in AGENT_BINARIES
        for s in d.manage_json("service", "list", "--binary", binary)
    }


def wait_listed(d, listed):
    """Wait until ``service list`` shows ``listed`` (see listed_versions): heartbeats lag."""
    wait_until(
        lambda: listed_versions(d) == listed,
        10,
        message=f"service list showing {listed}",
        interval=0.5,
    )


def run_on(d, agent, scheduler, kind="sum", params=None, progress_interval=None):
    """Submit a task through ``scheduler`` with only ``agent`` enabled; the task, done."""
    with only(d, agent):
        task = d.submit(kind, params or {"numbers": [1, 2, 3]}, scheduler.host, progress_interval)
    assert task["worker_host"] == agent.host
    done = d.wait_task(task["id"], "done")
    agent.wait_line(f"Task {task['id']} done", timeout=5)
    return done


def test_capped_scheduler_runs_tasks_on_old_and_new_agents(deployment):
    d = deployment
    assert (serving(d.old1, "1.0"), serving(d.new1, "1.1")) == (1, 1)
    # What an operator sees while the upgrade is under way.
    mixed = {d.old1.host: ("1.0", "alpha"), d.new1.host: ("1.1", "beta")}
    assert pinged_versions(d) == mixed
    listed = {
        ("svc-worker", d.old1.host): ("1.0", "alpha"),
        ("svc-agent", d.new1.host): ("1.1", "beta"),
    }
    wait_listed(d, listed)
    announced = {w["host"]: w for w in d.manage_json("rpc", "call", "scheduler", "list_workers")}
    assert {announced[w.host]["kinds"] == KINDS for w in (d.old1, d.new1)} == {True}

    on_old = run_on(d, d.old1, d.capped, "sleep", {"seconds": 0.5})
    assert (on_old["result"], on_old["progress"]) == ({"slept": 0.5}, 100)
    on_new = run_on(d, d.new1, d.capped, "sleep", {"seconds": 0.5})
    assert (on_new["result"], on_new["progress"]) == ({"slept": 0.5}, 100)

    assert REFUSED_1_1 not in d.old1.stderr()
    assert "Rejected an RPC request" not in d.new1.stderr()


def test_uncapped_scheduler_sends_what_old_agents_refuse(deployment):
    d = deployment
    assert run_on(d, d.new1, d.uncapped)["result"] == {"sum": 6}

    with only(d, d.old1):
        task = d.submit("sum", {"numbers": [1]}, scheduler=d.uncapped.host)
    assert (task["worker_host"], task["status"]) == (d.old1.host, "scheduled")
    # The old agent drops the 1.1 cast; nobody reports on the task again.
    d.old1.wait_line(REFUSED_1_1)
    stale = d.wait_task(task["id"], "stale", timeout=STALE_CHECK_SPACING + STALE_TASK_AFTER + 5)
    assert set(stale["seen"]) <= {"scheduled", "stale"}
    assert (stale["worker_host"], stale["progress"], stale["result"]) == (d.old1.host, 0, None)
    d.conductor.wait_line(f"Task {task['id']} is stale")
    assert d.old1.count(f"Running task {task['id']}") == 0


def test_upgraded_agent_keeps_its_old_name_then_sighup_lifts_the_cap(deployment):
    d = deployment
    # Upgrade old1: the current agent replaces the old one on the same host,
    # launched (and configured, [worker]) under the name the previous release
    # knew, in two processes.
    assert d.stop(d.old1) == 0
    d.old1 = d.start("worker", d.old1.host, workers=2, worker=QUIET_AGENT)
    d.wait_ready(d.old1)
    assert serving(d.old1, "1.1") == 2
    # Said once, by the master, not by each worker it forks.
    assert d.old1.count(RENAMED) == 1
    assert "use --binary agent" in d.old1.stderr()
    assert d.new1.count(RENAMED) == 0
    # The versioning guide's test before lifting the cap: every agent on the new release.
    # old1 keeps its registry entry (svc-worker): disable and enable still name it.
    upgraded = {d.old1.host: ("1.1", "beta"), d.new1.host: ("1.1", "beta")}
    assert pinged_versions(d) == upgraded
    listed = {
        ("svc-worker", d.old1.host): ("1.1", "beta"),
        ("svc-agent", d.new1.host): ("1.1", "beta"),
    }
    wait_listed(d, listed)
    # The capped scheduler still sends run_task 1.0, which the current agent runs
    # too, without progress_interval: no progress is reported until the end.
    capped = run_on(d, d.old1, d.capped, *SLOW_TASK, progress_interval=0.1)
    assert capped["result"] == {"slept": SLOW_TASK[1]["seconds"]}
    assert "running" in capped["seen"], capped
    assert set(capped["progress_seen"]) <= {0, 100}, capped

    # Lift the cap: the option needs a restart, so on SIGHUP the master
    # replaces its workers one at a time.
    d.capped.config.pop("upgrade_levels")
    d.capped.configure()
    d.capped.kill(signal.SIGHUP)
    d.capped.wait_line("Reload done, 2/2 workers ready", timeout=30)
    # Set under its deprecated name, the option is named as it is now.
    assert (
        d.capped.count(
            "Restarting workers one at a time: options that need a restart changed: "
            "[upgrade_levels] agent"
        )
        == 1
    )

    capabilities = d.manage_json(
        "rpc", "call", "worker", "capabilities", "--server", d.old1.host, "--version", "1.1"
    )
    assert capabilities == {"kinds": KINDS, "api_version": "1.1"}
    # run_task 1.1 now: progress_interval reaches the agent, which reports as asked.
    uncapped = run_on(d, d.old1, d.capped, *SLOW_TASK, progress_interval=0.1)
    assert [p for p in uncapped["progress_seen"] if 0 < p < 100], uncapped
    assert run_on(d, d.old1, d.uncapped)["result"] == {"sum": 6}
    assert "Rejected an RPC request" not in d.old1.stderr()
