import logging

import pytest
from oslo_config import cfg

from svcframe.conf import database, servicegroup


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    servicegroup.register_opts(conf)
    database.register_opts(conf)
    conf([], default_config_files=[], default_config_dirs=[])
    return conf


def test_nova_defaults(conf):
    assert conf.servicegroup_driver == "db"
    assert (conf.report_interval, conf.service_down_time, conf.initial_report_delay) == (10, 60, 5)
    assert conf.database.connection is None
    assert conf.servicegroup_redis.url == "redis://127.0.0.1:6379/0"


def test_secrets_are_marked_secret():
    opts = {opt.name: opt for _, group in servicegroup.list_opts() for opt in group}
    opts.update({opt.name: opt for _, group in database.list_opts() for opt in group})
    assert opts["url"].secret and opts["connection"].secret


@pytest.mark.parametrize(
    "report_interval, down_time, expected", [(10, 60, 60), (10, 10, 25), (30, 20, 75)]
)
def test_service_down_time_is_raised_above_report_interval(
    conf, caplog, report_interval, down_time, expected
):
    conf.set_override("report_interval", report_interval)
    conf.set_override("service_down_time", down_time)
    with caplog.at_level(logging.WARNING):
        assert servicegroup.effective_service_down_time(conf) == expected
    assert bool(caplog.records) == (expected != down_time)


def test_overrides_do_not_leak_between_config_objects(conf):
    conf.set_override("connection", "sqlite://", group="database")
    conf.set_override("key_prefix", "mine", group="servicegroup_redis")
    other = cfg.ConfigOpts()
    servicegroup.register_opts(other)
    database.register_opts(other)
    other([], default_config_files=[], default_config_dirs=[])
    assert other.database.connection is None
    assert other.servicegroup_redis.key_prefix == "svcframe:servicegroup"


def test_driver_choices_are_enforced(conf):
    with pytest.raises(ValueError):
        conf.set_override("servicegroup_driver", "memcache")
