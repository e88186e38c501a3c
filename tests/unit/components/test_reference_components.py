"""conductor, scheduler and agent working together on the in-process fake transport."""

import time

import pytest

from svcframe.conductor.rpcapi import ConductorAPI
from svcframe.conductor.tasks import TaskNotFound
from svcframe.scheduler.manager import NoValidHost
from svcframe.scheduler.rpcapi import SchedulerAPI
from svcframe.testing import wait_until


def wait_for_status(conductor, context, task_id, statuses, timeout=10.0):
    seen = []

    def reached():
        seen.append(conductor.get_task(context, task_id))
        return seen[-1] if seen[-1]["status"] in statuses else None

    return wait_until(
        reached, timeout, message=lambda: f"task {task_id} {' or '.join(statuses)}: {seen[-1]}"
    )


@pytest.fixture
def cluster(svc_service, svc_conf):
    from svcframe import servicegroup

    svc_service("conductor")
    svc_service("scheduler")
    svc_service("agent", host="w1")
    # Under the name the agent had before: registered as svc-worker, still an agent.
    svc_service("worker", host="w2")
    # Each service reports itself from a thread of its own, a moment after it starts.
    registry = servicegroup.API(svc_conf)
    try:
        wait_until(
            lambda: {r.host for r in registry.get_all() if r.host[0] == "w"} == {"w1", "w2"},
            10,
            message="both agents registered",
        )
    finally:
        registry.close()


@pytest.fixture
def conductor(svc_client):
    # ConductorAPI allows its own module: TaskNotFound comes back as itself.
    return svc_client(ConductorAPI)


def test_a_submitted_task_runs_on_a_live_agent_and_is_done(
    cluster, svc_client, conductor, svc_context
):
    scheduler = svc_client(SchedulerAPI)
    task = scheduler.submit_task(svc_context, "sum", {"numbers": [1, 2, 3.5]})
    assert task["status"] == "scheduled" and task["worker_host"] in ("w1", "w2")
    done = wait_for_status(conductor, svc_context, task["id"], ("done", "failed"))
    assert done["status"] == "done"
    assert done["result"] == {"sum": 6.5}
    assert done["progress"] == 100


def test_tasks_are_spread_over_the_agents(cluster, svc_client, conductor, svc_context):
    scheduler = svc_client(SchedulerAPI)
    hosts = {
        scheduler.submit_task(svc_context, "sum", {"numbers": [1]})["worker_host"] for _ in range(4)
    }
    assert hosts == {"w1", "w2"}


def test_a_failing_task_is_recorded_as_failed(cluster, svc_client, conductor, svc_context):
    task = svc_client(SchedulerAPI).submit_task(svc_context, "fail", {"message": "no luck"})
    failed = wait_for_status(conductor, svc_context, task["id"], ("done", "failed"))
    assert failed["status"] == "failed" and failed["error"] == "no luck"


def test_a_kind_no_agent_runs_is_refused(cluster, svc_client, svc_context):
    with pytest.raises(NoValidHost) as info:
        svc_client(SchedulerAPI).submit_task(svc_context, "paint", {})
    assert info.value.kind == "paint"


def test_services_register_under_the_name_they_were_launched_as(cluster, svc_conf):
    from svcframe import servicegroup

    registry = servicegroup.API(svc_conf)
    try:
        agents = {(r.binary, r.host, r.topic) for r in registry.get_all() if r.host[0] == "w"}
    finally:
        registry.close()
    assert agents == {("svc-agent", "w1", "worker"), ("svc-worker", "w2", "worker")}


@pytest.mark.parametrize(
    "disabled, left", [(("w1", "svc-agent"), "w2"), (("w2", "svc-worker"), "w1")]
)
def test_a_disabled_agent_gets_no_tasks(cluster, svc_client, svc_conf, svc_context, disabled, left):
    from svcframe import servicegroup

    registry = servicegroup.API(svc_conf)
    registry.disable(*disabled, "maintenance")
    try:
        scheduler = svc_client(SchedulerAPI)
        hosts = {scheduler.submit_task(svc_context, "sum", {})["worker_host"] for _ in range(3)}
        assert hosts == {left}
    finally:
        registry.close()


def test_agents_announce_themselves_to_the_scheduler(cluster, svc_client, svc_context):
    agents = svc_client(SchedulerAPI).list_agents(svc_context)
    assert [a["host"] for a in agents] == ["w1", "w2"]
    assert all(a["up"] and "sleep" in a["kinds"] for a in agents)
    with pytest.warns(DeprecationWarning, match=r"list_workers\(\) is deprecated"):
        listed = svc_client(SchedulerAPI).list_workers(svc_context)
    assert [(a["host"], a["kinds"]) for a in listed] == [(a["host"], a["kinds"]) for a in agents]


def test_an_unknown_task_id_is_task_not_found(cluster, conductor, svc_context):
    with pytest.raises(TaskNotFound) as info:
        conductor.get_task(svc_context, "no-such-task")
    assert info.value.task_id == "no-such-task"


def test_stale_tasks_are_marked_by_the_periodic_task(svc_service, conductor, svc_conf, svc_context):
    service = svc_service("conductor")
    task = conductor.create_task(svc_context, "sleep", {"seconds": 60})
    conductor.update_task(svc_context, task["id"], status="running", worker_host="gone")
    wait_for_status(conductor, svc_context, task["id"], ("running",))
    svc_conf.set_override("stale_task_after", 1, group="conductor")
    time.sleep(1.1)
    service.manager.mark_stale_tasks(svc_context)
    assert conductor.get_task(svc_context, task["id"])["status"] == "stale"


def test_list_tasks_filters_by_status(svc_service, conductor, svc_context):
    svc_service("conductor")
    first = conductor.create_task(svc_context, "sum", {})
    conductor.create_task(svc_context, "sum", {})
    conductor.update_task(svc_context, first["id"], status="done")
    wait_for_status(conductor, svc_context, first["id"], ("done",))
    assert [t["id"] for t in conductor.list_tasks(svc_context, status="done")] == [first["id"]]
    assert len(conductor.list_tasks(svc_context)) == 2


def test_late_updates_do_not_undo_a_finished_task(svc_service, conductor, svc_context):
    service = svc_service("conductor")
    store = service.manager.store
    task = store.create("sum", {})
    assert store.update(task["id"], status="running")
    assert store.update(task["id"], status="done", progress=100, result={"sum": 0})
    assert not store.update(task["id"], status="running")
    assert not store.update(task["id"], progress=50)
    assert not store.update(task["id"], status="scheduled")
    final = store.get(task["id"])
    assert (final["status"], final["progress"]) == ("done", 100)
