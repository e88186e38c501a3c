"""The agent was called worker: the old names keep working for a release."""

import importlib
import sys

import pytest
from oslo_config import cfg

from svcframe import components, service
from svcframe.agent.manager import AgentManager
from svcframe.agent.rpcapi import AgentAPI
from svcframe.cmd import launch
from svcframe.conductor.manager import ConductorManager


@pytest.mark.parametrize("binary", ["worker", "svc-worker"])
def test_the_old_name_finds_the_agent(binary):
    assert components.renamed_to(binary) == "agent"
    assert components.resolve(binary) == "agent"
    assert components.load_manager_class(binary) is AgentManager


@pytest.mark.parametrize("binary", ["agent", "svc-agent", "conductor"])
def test_current_names_are_not_renamed(binary):
    assert components.renamed_to(binary) is None
    assert components.resolve(binary) == components.component_name(binary)


def test_the_old_name_is_not_listed_as_installed():
    assert "worker" not in components.names()
    with pytest.raises(components.ComponentNotFound):
        components.load_manager_class("workers")


def test_an_installed_component_of_the_old_name_wins(monkeypatch):
    monkeypatch.setattr(components, "names", lambda: ["agent", "worker"])
    assert components.renamed_to("worker") is None
    assert components.resolve("worker") == "worker"


@pytest.mark.parametrize(
    "binary, manager, topic",
    [
        ("svc-agent", None, "worker"),
        ("svc-worker", None, "worker"),
        ("svc-agent", "svcframe.agent.manager.AgentManager", "worker"),
        ("svc-conductor", ConductorManager, "conductor"),
    ],
)
def test_the_agent_serves_the_topic_peers_already_use(svc_conf, binary, manager, topic):
    server = service.Service.create(binary=binary, manager=manager, conf=svc_conf)
    assert (server.binary, server.topic) == (binary, topic)
    assert isinstance(server.manager, AgentManager if topic == "worker" else ConductorManager)


def test_a_topic_given_wins_over_the_managers(svc_conf):
    server = service.Service.create(binary="svc-agent", topic="elsewhere", conf=svc_conf)
    assert server.topic == "elsewhere"


def _conf(tmp_path, text):
    path = tmp_path / "svc.conf"
    path.write_text(text)
    conf = cfg.ConfigOpts()
    service.register_opts(conf)
    conf(["--config-file", str(path)], default_config_files=[], default_config_dirs=[])
    return conf


@pytest.mark.parametrize("binary", ["worker", "agent"])
def test_the_old_group_still_sets_the_agents_options(tmp_path, binary):
    conf = _conf(tmp_path, "[worker]\nworkers = 3\nprogress_interval = 0.5\n")
    server = service.Service.create(binary=f"svc-{binary}", conf=conf)
    conf.register_opt(cfg.IntOpt("workers"))
    assert (conf.agent.workers, conf.agent.progress_interval) == (3, 0.5)
    assert launch._workers(conf, binary) == 3
    assert server.manager.conf.agent.progress_interval == 0.5


def test_the_new_group_wins_over_the_old(tmp_path):
    conf = _conf(tmp_path, "[worker]\nworkers = 3\n[agent]\nworkers = 5\n")
    service.Service.create(binary="svc-worker", conf=conf)
    assert conf.agent.workers == 5


@pytest.mark.parametrize("option", ["worker", "agent"])
def test_the_version_cap_reads_either_name(tmp_path, option):
    conf = _conf(
        tmp_path, f"[DEFAULT]\ntransport_url = fake://\n[upgrade_levels]\n{option} = alpha\n"
    )
    client = AgentAPI(conf=conf)
    try:
        assert client.version_cap == "1.0"
    finally:
        client.transport.cleanup()


def test_the_launch_warns_once_only_under_the_old_name(caplog):
    with caplog.at_level("WARNING", logger="svcframe.cmd.launch"):
        launch._warn_if_renamed("agent")
        launch._warn_if_renamed("svc-conductor")
        assert caplog.messages == []
        launch._warn_if_renamed("worker")
    (message,) = caplog.messages
    assert message == (
        "The component name 'worker' is deprecated and will be removed in a future release: "
        "use --binary agent. Under the old name this service still registers as svc-worker, "
        "as before; under the new one it registers as svc-agent."
    )
    assert launch._program_name("worker") == "svc-worker"


@pytest.mark.parametrize(
    "old_module, old_name, new_module, new_name",
    [
        ("svcframe.worker.manager", "WorkerManager", "svcframe.agent.manager", "AgentManager"),
        ("svcframe.worker.rpcapi", "WorkerAPI", "svcframe.agent.rpcapi", "AgentAPI"),
        ("svcframe.worker.kinds", "KINDS", "svcframe.agent.kinds", "KINDS"),
        ("svcframe.conf.worker", "register_opts", "svcframe.conf.agent", "register_opts"),
    ],
)
def test_the_old_modules_warn_and_alias_the_new(
    monkeypatch, old_module, old_name, new_module, new_name
):
    monkeypatch.delitem(sys.modules, old_module, raising=False)
    with pytest.warns(DeprecationWarning, match="is deprecated: the worker component is now"):
        old = importlib.import_module(old_module)
    assert getattr(old, old_name) is getattr(importlib.import_module(new_module), new_name)
    assert old_name in old.__all__
