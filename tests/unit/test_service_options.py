"""The options a Service registers in the launching process."""

from oslo_config import cfg

from svcframe import components, service


def test_version_caps_of_every_installed_component_are_known_before_the_fork():
    # The master compares option values on SIGHUP: a cap it has not registered
    # would change unnoticed, and the workers would keep the old one.
    conf = cfg.ConfigOpts()
    service.register_opts(conf)
    conf([])
    assert set(conf.upgrade_levels) >= {"baseapi", *components.names()}
    assert {"agent", "conductor", "scheduler"} <= set(components.names())
