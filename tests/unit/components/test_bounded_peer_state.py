"""What a peer can make a reference component hold is bounded."""

import time

import pytest
from oslo_config import cfg

from svcframe.agent import kinds
from svcframe.scheduler import manager as scheduler_manager


@pytest.fixture
def scheduler():
    conf = cfg.ConfigOpts()
    conf([], project="svcframe-tests", default_config_files=[], default_config_dirs=[])
    return scheduler_manager.SchedulerManager(host="sched-1", conf=conf)


def test_announced_hosts_expire(scheduler):
    scheduler.announce({}, "old-host", {"kinds": ["sleep"]})
    # As if it had announced long ago.
    caps, _ = scheduler._announced["old-host"]
    max_age = scheduler.conf.scheduler.announcement_max_age
    scheduler._announced["old-host"] = (caps, time.monotonic() - 2 * max_age - 1)
    scheduler.announce({}, "new-host", {"kinds": ["sleep"]})
    assert list(scheduler._announced) == ["new-host"]


def test_announced_hosts_are_bounded(scheduler, monkeypatch):
    monkeypatch.setattr(scheduler_manager, "MAX_ANNOUNCED_HOSTS", 50)
    for n in range(200):
        scheduler.announce({}, f"host-{n}", {"kinds": []})
    assert len(scheduler._announced) == 50
    assert "host-199" in scheduler._announced and "host-0" not in scheduler._announced


@pytest.mark.parametrize(
    "host, capabilities",
    [("h" * 300, {"kinds": []}), (["h"], {"kinds": []}), ("h", "caps"), ("h", {"kinds": 5})],
)
def test_malformed_announcements_are_ignored(scheduler, host, capabilities):
    scheduler.announce({}, host, capabilities)
    assert scheduler._announced == {}


@pytest.mark.parametrize("seconds", [kinds.MAX_SLEEP_SECONDS + 1, -1, "nan", "x", [1]])
def test_the_sleep_kind_refuses_what_it_cannot_bound(seconds):
    with pytest.raises(ValueError, match="sleep"):
        kinds.KINDS["sleep"]({"seconds": seconds}, lambda percent: None)


def test_the_sleep_kind_still_sleeps():
    reported = []
    assert kinds.KINDS["sleep"]({"seconds": 0.05}, reported.append) == {"slept": 0.05}
    assert reported[-1] == 100
