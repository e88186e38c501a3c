"""The svc_* pytest fixtures: a component tested in a few lines."""

import pytest

from svcframe import messaging
from svcframe.baserpc import BaseAPI
from svcframe.conductor.rpcapi import ConductorAPI
from svcframe.manager import Manager


class EchoManager(Manager):
    target = messaging.Target(version="1.1")
    service_name = "echo"

    def echo(self, context, value):
        return value


def test_a_registered_component_answers_through_its_client(svc_service, svc_client, svc_context):
    svc_service("conductor")
    api = svc_client(ConductorAPI)
    info = api.describe(svc_context)
    assert info["service"] == "conductor"
    assert info["host"] == "test-host"


def test_a_manager_class_is_served_with_the_baseapi_ping(
    svc_service, svc_transport, svc_conf, svc_context
):
    svc_service(EchoManager, host="node1")
    client = messaging.get_rpc_client(svc_transport, messaging.Target(topic="echo"))
    assert client.call({}, "echo", value=[1, "two"]) == [1, "two"]
    pong = BaseAPI("echo", transport=svc_transport, conf=svc_conf).ping(svc_context, "hi")
    assert pong["arg"] == "hi" and pong["service"] == "echo" and pong["host"] == "node1"


def test_manager_hooks_are_not_callable_over_rpc(svc_service, svc_transport):
    svc_service(EchoManager)
    client = messaging.get_rpc_client(svc_transport, messaging.Target(topic="echo"))
    for hook in ("init_host", "reset", "periodic_tasks", "cleanup_host", "run_periodic_tasks"):
        with pytest.raises(messaging.RemoteError) as info:
            client.call({}, hook)
        assert info.value.exc_type == "NoSuchMethod"


def test_each_test_gets_its_own_exchange_and_state(svc_conf, tmp_path):
    assert svc_conf.control_exchange.startswith("svctest_")
    assert svc_conf.state_path == str(tmp_path / "state")
    assert svc_conf.transport_url == "fake://"


def test_make_test_conf_takes_overrides_of_any_registered_group(tmp_path):
    from svcframe.testing import make_test_conf

    conf = make_test_conf(tmp_path, conductor__workers=3, report_interval=2)
    assert conf.conductor.workers == 3 and conf.report_interval == 2
    with pytest.raises(ValueError, match="billing__greeting"):
        make_test_conf(tmp_path, billing__greeting="hi")


def test_component_groups_are_found_through_the_packages_that_install_components():
    from svcframe import components

    group, opts = components.group_opts("conductor")
    assert group.name == "conductor" and "stale_task_after" in {opt.name for opt in opts}
    # oslo.messaging lists this group, but installs no component.
    assert components.group_opts("oslo_messaging_kafka") is None
    assert components.group_opts("billing") is None
