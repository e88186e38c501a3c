"""The README walkthrough on RabbitMQ: a conductor, a scheduler and two agents place and run tasks.

Every service is a real ``svc-launch`` process tree; the test only uses
``svc-manage``, as an operator would.  The tests share one deployment and
run in file order: the second kills an agent the first used.
"""

import signal

import pytest
from walkthrough_deployment import Deployment

from svcframe.testing import wait_until

pytestmark = [pytest.mark.rabbit, pytest.mark.slow, pytest.mark.timeout(120)]

KINDS = ["fail", "sleep", "sum"]
AGENT = "svc-agent"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    deployment = Deployment(tmp_path_factory.mktemp("walkthrough"), "walkthrough")
    try:
        control = deployment.host("control")
        deployment.conductor = deployment.start("conductor", control, workers=2)
        deployment.scheduler = deployment.start("scheduler", control, workers=2)
        deployment.wait_ready(deployment.conductor, deployment.scheduler)
        # Started once the schedulers consume: they learn about the agents by fanout.
        deployment.w1 = deployment.start("agent", deployment.host("w1"))
        deployment.w2 = deployment.start("agent", deployment.host("w2"))
        deployment.wait_ready(deployment.w1, deployment.w2)
        yield deployment
    finally:
        deployment.close()


def announced_to(scheduler, host):
    """The pids of the scheduler processes that logged ``host``'s announcement."""
    text = f"Agent {host} announced: {', '.join(KINDS)}"
    return {pid for pid, _, _, _, message in scheduler.records() if message == text}


def test_tasks_run_on_the_agents_the_schedulers_heard_of(deployment):
    d = deployment
    hosts = {d.w1.host, d.w2.host}
    expected = {
        ("svc-conductor", d.conductor.host),
        ("svc-scheduler", d.scheduler.host),
        (AGENT, d.w1.host),
        (AGENT, d.w2.host),
    }
    wait_until(
        lambda: {key for key, s in d.services().items() if s["state"] == "up"} == expected,
        10,
        message=lambda: f"the four services up: {d.services()}",
        interval=0.2,
    )
    services = d.services()
    assert set(services) == expected
    assert all(s["status"] == "enabled" for s in services.values())

    # Both scheduler processes heard both agents (a fanout reaches every process).
    scheduler_pids = set(d.scheduler.workers().values())
    for host in hosts:
        wait_until(
            lambda host=host: announced_to(d.scheduler, host) == scheduler_pids,
            10,
            message=lambda host=host: f"both schedulers told about {host}:\n{d.scheduler.stderr()}",
        )

    task = d.submit("sleep", {"seconds": 1})
    assert task["status"] == "scheduled"
    assert task["kind"] == "sleep" and task["params"] == {"seconds": 1}
    assert task["worker_host"] in hosts
    done = d.wait_task(task["id"], "done")
    assert done["result"] == {"slept": 1.0}
    assert done["progress"] == 100
    assert done["worker_host"] == task["worker_host"]
    assert done["error"] is None
    assert set(done["seen"]) <= {"scheduled", "running", "done"}

    # Each scheduler process takes the candidates in turn: of six tasks, one of the
    # two processes gets at least two, and so both agents get some.
    tasks = d.submit_all("sum", [{"numbers": [n, n, 1]} for n in range(6)])
    finished = d.wait_tasks([t["id"] for t in tasks], "done")
    assert [t["result"] for t in finished] == [{"sum": 2 * n + 1} for n in range(6)]
    assert [t["worker_host"] for t in finished] == [t["worker_host"] for t in tasks]
    assert {t["worker_host"] for t in finished} == hosts

    agents = {a["host"]: a for a in d.manage_json("rpc", "call", "scheduler", "list_workers")}
    for host in hosts:
        assert agents[host]["up"] is True
        assert agents[host]["kinds"] == KINDS


def test_only_live_enabled_agents_get_tasks(deployment):
    d = deployment
    w1, w2 = d.w1.host, d.w2.host
    killed = d.kill_hard(d.w1)
    assert d.w1.pid in killed
    assert d.w1.proc.returncode == -signal.SIGKILL
    d.wait_state(AGENT, w1, "down", timeout=d.options["DEFAULT"]["service_down_time"] + 5)
    assert d.services()[(AGENT, w2)]["state"] == "up"

    tasks = d.submit_all("sum", [{"numbers": [n]} for n in range(4)])
    assert {t["worker_host"] for t in tasks} == {w2}
    finished = d.wait_tasks([t["id"] for t in tasks], "done")
    assert [(t["worker_host"], t["result"]) for t in finished] == [
        (w2, {"sum": n}) for n in range(4)
    ]

    disabled = d.manage("service", "disable", w2, AGENT, "--reason", "maintenance")
    assert disabled.returncode == 0, disabled.stderr
    assert d.services()[(AGENT, w2)]["status"] == "disabled"
    try:
        refused = d.manage(*d.submit_command("sum", {"numbers": [1]}))
        assert refused.returncode == 1
        assert refused.stdout == ""
        assert refused.stderr == (
            "svc-manage: error: the remote method raised NoValidHost: "
            "no live agent can run tasks of kind 'sum'\n"
        )
    finally:
        enabled = d.manage("service", "enable", w2, AGENT)
    assert enabled.returncode == 0, enabled.stderr

    task = d.submit("sum", {"numbers": [40, 2]})
    assert task["worker_host"] == w2
    assert d.wait_task(task["id"], "done")["result"] == {"sum": 42}
