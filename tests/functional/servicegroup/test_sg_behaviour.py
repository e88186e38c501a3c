"""One behavioural suite for every registry backend: heartbeats, up/down, admin."""

import logging
import time

import pytest

from svcframe.servicegroup import ServiceNotFound
from svcframe.testing import wait_until

BINARY = "svc-conductor"


@pytest.fixture
def api(registry):
    api = registry.api()
    yield api
    api.close()


@pytest.fixture
def memberships():
    started = []
    yield started
    for membership in started:
        membership.stop()


def test_join_is_up_within_one_report_interval(api, memberships, caplog):
    caplog.set_level(logging.WARNING)
    joined = time.monotonic()
    memberships.append(api.join("node1", BINARY, topic="conductor", version=7))

    wait_until(lambda: api.get_up_hosts(BINARY) == ["node1"], timeout=api.report_interval)
    assert time.monotonic() - joined <= api.report_interval
    (record,) = api.get_all()
    assert (record.host, record.binary, record.topic, record.version) == (
        "node1",
        BINARY,
        "conductor",
        7,
    )
    assert record.report_count >= 1
    assert record.status == "enabled" and not record.disabled and not record.forced_down
    assert record.last_seen_up.tzinfo is not None
    assert api.get_updated_time(record) == record.updated_at
    assert [r for r in caplog.records if r.name.startswith("svcframe")] == []


def test_reports_keep_coming_every_interval(api, memberships):
    memberships.append(api.join("node1", BINARY))
    wait_until(lambda: api.get_all(), timeout=1)
    first = api.get("node1", BINARY)
    time.sleep(2.2 * api.report_interval)
    later = api.get("node1", BINARY)
    assert later.report_count >= first.report_count + 2
    assert later.last_seen_up > first.last_seen_up


@pytest.mark.slow
def test_down_after_service_down_time_without_reports(api, memberships):
    membership = api.join("node1", BINARY)
    memberships.append(membership)
    wait_until(lambda: api.get_up_hosts(BINARY) == ["node1"], timeout=2)

    membership.stop()
    assert not membership.running
    stopped = time.monotonic()
    record = api.get("node1", BINARY)
    assert api.service_is_up(record)
    wait_until(lambda: not api.service_is_up(api.get("node1", BINARY)), timeout=5)
    # Down no earlier than service_down_time after the last report, give or take
    # one report interval (the last report happened up to that long before stop).
    assert time.monotonic() - stopped >= api.service_down_time - api.report_interval - 0.2
    assert api.get_up_hosts(BINARY) == []
    assert api.get_all()[0].host == "node1"


def test_disable_and_enable(api, memberships):
    for host in ("node1", "node2"):
        memberships.append(api.join(host, BINARY))
    wait_until(lambda: api.get_up_hosts(BINARY) == ["node1", "node2"], timeout=2)

    api.disable("node1", BINARY, reason="kernel upgrade")
    record = api.get("node1", BINARY)
    assert (record.status, record.disabled_reason) == ("disabled", "kernel upgrade")
    assert api.service_is_up(record), "disabled is an administrative status, not a state"
    assert api.get_up_hosts(BINARY) == ["node2"]

    api.enable("node1", BINARY)
    record = api.get("node1", BINARY)
    assert (record.status, record.disabled_reason) == ("enabled", None)
    assert api.get_up_hosts(BINARY) == ["node1", "node2"]


def test_heartbeats_keep_disabled_status(api, memberships):
    memberships.append(api.join("node1", BINARY))
    wait_until(lambda: api.get_all(), timeout=1)
    api.disable("node1", BINARY, reason="drain")
    count = api.get("node1", BINARY).report_count
    wait_until(lambda: api.get("node1", BINARY).report_count > count, timeout=2)
    assert api.get("node1", BINARY).disabled_reason == "drain"


def test_force_down_and_unset(api, memberships):
    for host in ("node1", "node2"):
        memberships.append(api.join(host, BINARY))
    wait_until(lambda: api.get_up_hosts(BINARY) == ["node1", "node2"], timeout=2)

    api.force_down("node2", BINARY)
    record = api.get("node2", BINARY)
    assert record.forced_down and not api.service_is_up(record)
    assert api.get_up_hosts(BINARY) == ["node1"]
    count = record.report_count
    wait_until(lambda: api.get("node2", BINARY).report_count > count, timeout=2)
    assert not api.service_is_up(api.get("node2", BINARY)), "heartbeats do not clear it"

    api.force_down("node2", BINARY, value=False)
    assert api.service_is_up(api.get("node2", BINARY))
    assert api.get_up_hosts(BINARY) == ["node1", "node2"]


def test_delete(api, memberships):
    membership = api.join("node1", BINARY)
    memberships.append(api.join("node2", BINARY))
    wait_until(lambda: len(api.get_all()) == 2, timeout=2)
    membership.stop()

    api.delete("node1", BINARY)
    assert [r.host for r in api.get_all()] == ["node2"]
    assert api.get_up_hosts(BINARY) == ["node2"]
    with pytest.raises(ServiceNotFound):
        api.get("node1", BINARY)


@pytest.mark.parametrize(
    "operation",
    [
        lambda api: api.disable("ghost", BINARY, "x"),
        lambda api: api.enable("ghost", BINARY),
        lambda api: api.force_down("ghost", BINARY),
        lambda api: api.delete("ghost", BINARY),
        lambda api: api.get("ghost", BINARY),
    ],
    ids=["disable", "enable", "force_down", "delete", "get"],
)
def test_unknown_service_raises_not_found(api, operation):
    api.driver.report("node1", BINARY)
    with pytest.raises(ServiceNotFound) as raised:
        operation(api)
    assert (raised.value.host, raised.value.binary) == ("ghost", BINARY)
    assert [r.host for r in api.get_all()] == ["node1"]


def test_listing_filters_and_order(api):
    for host, binary in [("b", "svc-api"), ("a", "svc-api"), ("a", "svc-conductor")]:
        api.driver.report(host, binary)
    assert [(r.binary, r.host) for r in api.get_all()] == [
        ("svc-api", "a"),
        ("svc-api", "b"),
        ("svc-conductor", "a"),
    ]
    assert [r.host for r in api.get_all(binary="svc-api")] == ["a", "b"]
    assert [r.binary for r in api.get_all(host="a")] == ["svc-api", "svc-conductor"]
    assert api.get_all(binary="svc-api", host="a")[0].binary == "svc-api"
    assert api.get_all(binary="nothing") == []


def test_stop_is_prompt(api):
    membership = api.join("node1", BINARY)
    wait_until(lambda: api.get_all(), timeout=1)
    started = time.monotonic()
    membership.stop()
    assert time.monotonic() - started < 0.5
    assert not membership.running
