"""The service registry end to end: svc-launch reports, svc-manage and the API read it.

The conductor runs with 2 workers on RabbitMQ, report_interval 1 s and
service_down_time 3 s; the registry is SQLite, PostgreSQL, MariaDB or
Redis, or a private PostgreSQL cluster that is stopped under the service.
"""

import json
import os
import signal
import time

import pytest
from sg_e2e_support import OUTAGE_PASSWORD, harness, sync_schema

from svcframe import servicegroup
from svcframe.cmd.manage import load_config
from svcframe.servicegroup._record import utcnow
from svcframe.testing import wait_until

pytestmark = [pytest.mark.rabbit, pytest.mark.slow, pytest.mark.timeout(90)]

BINARY = "svc-conductor"
SVC_MANAGE = harness.SVC_MANAGE
alive = harness.alive
run_cli = harness.run_cli
REPORT_INTERVAL = 1
SERVICE_DOWN_TIME = 3


def manage(service, *args):
    result = run_cli(SVC_MANAGE, "--config-file", str(service.conf_path), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def listing(service):
    """svc-manage's JSON listing of the service's host."""
    output = manage(service, "service", "list", "--format", "json", "--host", service.host)
    return json.loads(output)


def listed_as(service, **expected):
    """The one listed entry if it has the ``expected`` items, else None."""
    entries = listing(service)
    if len(entries) == 1 and all(entries[0][k] == v for k, v in expected.items()):
        return entries[0]
    return None


def api_of(service):
    return servicegroup.API(load_config([str(service.conf_path)], []))


def kill_everything(service, workers):
    """SIGKILL the master and its workers at once; wait until they are gone."""
    for pid in [service.pid, *workers.values()]:
        os.kill(pid, signal.SIGKILL)
    assert service.wait(timeout=5) == -signal.SIGKILL
    wait_until(
        lambda: not any(alive(pid) for pid in workers.values()), 5, message="the workers gone"
    )


def with_host(sections, host):
    sections = dict(sections)
    sections["DEFAULT"] = dict(sections.get("DEFAULT", {}), host=host)
    return sections


def test_up_while_running_and_down_after_the_service_is_killed(registry, launch):
    backend, sections, host = registry
    service = launch(**with_host(sections, host))
    workers = service.wait_ready()
    ready_at = time.monotonic()

    entry = wait_until(
        lambda: listed_as(service, state="up"),
        REPORT_INTERVAL + 3,
        message="listed up",
        interval=0.1,
    )
    # The first report goes out as the workers start; svc-manage takes its time.
    assert time.monotonic() - ready_at <= REPORT_INTERVAL + 3
    assert (entry["binary"], entry["host"], entry["topic"], entry["status"]) == (
        BINARY,
        host,
        "conductor",
        "enabled",
    )
    api = api_of(service)
    try:
        assert api.get_up_hosts(BINARY) == [host]
        reports = api.get(host, BINARY).report_count
        wait_until(
            lambda: api.get(host, BINARY).report_count >= reports + 2, 3, message="more reports"
        )

        kill_everything(service, workers)
        killed = utcnow()
        last_report = api.get(host, BINARY).last_seen_up
        assert api.get_up_hosts(BINARY) == [host]
        wait_until(lambda: api.get_up_hosts(BINARY) == [], SERVICE_DOWN_TIME + 3, message="down")
        down = utcnow()
    finally:
        api.close()

    # Down once service_down_time has passed since the last report, not before.
    assert (down - last_report).total_seconds() >= SERVICE_DOWN_TIME - 0.1
    assert (down - killed).total_seconds() <= SERVICE_DOWN_TIME + 1.5
    assert listed_as(service, state="down", status="enabled") is not None


def test_disable_enable_force_down_and_delete_show_in_the_listing(launch):
    # On SQLite only: the servicegroup suite runs the admin commands on every driver.
    service = launch()
    host = service.host
    workers = service.wait_ready()
    api = api_of(service)
    try:
        wait_until(lambda: listed_as(service, state="up"), REPORT_INTERVAL + 3, message="up")

        manage(service, "service", "disable", host, BINARY, "--reason", "disk swap")
        entry = listed_as(service, status="disabled", state="up")
        assert entry is not None and entry["disabled_reason"] == "disk swap"
        assert api.get_up_hosts(BINARY) == []

        manage(service, "service", "enable", host, BINARY)
        entry = listed_as(service, status="enabled", state="up")
        assert entry is not None and entry["disabled_reason"] is None
        assert api.get_up_hosts(BINARY) == [host]

        manage(service, "service", "force-down", host, BINARY)
        assert listed_as(service, state="down", forced_down=True) is not None
        assert api.get_up_hosts(BINARY) == []
        manage(service, "service", "force-down", "--unset", host, BINARY)
        assert listed_as(service, state="up", forced_down=False) is not None

        # Deleted while running: the next heartbeat registers it again, afresh.
        deleted = utcnow()
        manage(service, "service", "delete", host, BINARY)
        wait_until(
            lambda: listed_as(service, state="up"), REPORT_INTERVAL + 3, message="registered again"
        )
        assert api.get(host, BINARY).created_at > deleted

        kill_everything(service, workers)
        manage(service, "service", "delete", host, BINARY)
        assert listing(service) == []
        assert api.get_all(host=host) == []
    finally:
        api.close()


def test_registry_outage_under_a_running_service(postgres_cluster, launch):
    url = postgres_cluster.url
    sync_schema(url)
    service = launch(database={"connection": url, "connect_timeout": 1})
    service.wait_ready()
    host = service.host
    api = api_of(service)

    def reported_since(moment):
        try:
            return api.get(host, BINARY).last_seen_up > moment
        except servicegroup.ServiceGroupError:
            return False

    try:
        wait_until(lambda: api.get_up_hosts(BINARY) == [host], REPORT_INTERVAL + 3, message="up")
        with service.client() as client:
            stopped_at = time.monotonic()
            postgres_cluster.stop()
            service.wait_line(f"Heartbeat of {BINARY} on {host} failed", timeout=5, count=2)
            # The registry being away stops no request.
            assert client.call("describe", timeout=5)["host"] == host
            # An outage longer than service_down_time, with reports failing all along.
            time.sleep(max(0.0, stopped_at + SERVICE_DOWN_TIME + 1 - time.monotonic()))
            restarted = utcnow()
            postgres_cluster.start()
            wait_until(lambda: reported_since(restarted), 10, message="a report after the restart")
            assert api.get_up_hosts(BINARY) == [host]
            assert client.call("describe", timeout=5)["host"] == host
        service.wait_line(f"Heartbeat of {BINARY} on {host} reached", timeout=5, count=2)
        assert listed_as(service, state="up") is not None
    finally:
        api.close()

    service.kill(signal.SIGTERM)
    assert service.wait(timeout=15) == 0
    heartbeat = [
        (tag, level, message)
        for _, tag, level, logger, message in service.records()
        if logger == "svcframe.servicegroup.heartbeat"
    ]
    location = f"postgresql+psycopg2://postgres:***@127.0.0.1:{postgres_cluster.port}/postgres"
    for tag in ("worker-1", "worker-2"):
        lines = [(level, message) for line_tag, level, message in heartbeat if line_tag == tag]
        assert [level for level, _ in lines] == ["WARNING", "INFO"], heartbeat
        (_, lost), (_, back) = lines
        assert lost.startswith(f"Heartbeat of {BINARY} on {host} failed, retrying every 1s: ")
        assert location in lost
        assert back == f"Heartbeat of {BINARY} on {host} reached {location} again"
    assert OUTAGE_PASSWORD not in service.stderr() + service.stdout()
