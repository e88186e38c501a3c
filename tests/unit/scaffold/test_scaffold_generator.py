"""svcframe.scaffold: names, the file list, the rendered files, writing the project."""

import os
import shutil
import subprocess
import sys
import tomllib

import pytest
from oslo_config import cfg

import svcframe
from svcframe import scaffold
from svcframe.scaffold import generator

LONGEST_NAME = "a" * generator.MAX_NAME_LENGTH
LONGEST_PACKAGE = "p" * generator.MAX_PACKAGE_LENGTH


@pytest.mark.parametrize("name", ["billing", "task_queue", "x", "v2", LONGEST_NAME])
def test_good_names(name):
    scaffold.validate_name(name)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Billing", "lowercase identifier"),
        ("bill-ing", "lowercase identifier"),
        ("bill ing", "lowercase identifier"),
        ("2fa", "lowercase identifier"),
        ("_private", "lowercase identifier"),
        ("", "lowercase identifier"),
        ("billing\n", "lowercase identifier"),
        ("café", "lowercase identifier"),
        (LONGEST_NAME + "a", f"at most {generator.MAX_NAME_LENGTH} characters"),
        ("class", "Python keyword"),
        ("conductor", "already installed (svcframe.conductor.manager:ConductorManager)"),
        ("agent", "already installed (svcframe.agent.manager:AgentManager)"),
        ("worker", "the deprecated name of the agent component and still launches it"),
    ],
)
def test_bad_names_are_refused_in_one_line(name, message):
    with pytest.raises(scaffold.ScaffoldError) as info:
        scaffold.validate_name(name)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("package", "message"),
    [
        ("Svc_billing", "lowercase Python identifier"),
        ("svc.billing", "lowercase Python identifier"),
        ("svc_billing\n", "lowercase Python identifier"),
        ("import", "lowercase Python identifier"),
        (LONGEST_PACKAGE + "p", f"at most {generator.MAX_PACKAGE_LENGTH} characters"),
        ("json", "taken by json"),
        ("svcframe", "taken by svcframe"),
        ("pytest", "already importable"),
    ],
)
def test_bad_packages_are_refused(package, message):
    with pytest.raises(scaffold.ScaffoldError, match=message):
        scaffold.validate_package(package)


def test_plan_defaults_the_package_and_derives_the_class_names():
    component = scaffold.plan("task_queue")
    assert component.package == "svc_task_queue"
    assert component.class_prefix == "TaskQueue"
    assert component.title == "Task queue"
    assert component.project == "svc-task_queue"
    assert scaffold.plan("billing", package="acme_billing").package == "acme_billing"


def test_the_file_list():
    files = scaffold.render(_component("billing"))
    assert list(files) == [
        "pyproject.toml",
        "README.md",
        ".gitignore",
        "svc_billing/__init__.py",
        "svc_billing/manager.py",
        "svc_billing/rpcapi.py",
        "svc_billing/opts.py",
        "etc/billing.conf",
        "tests/test_billing_unit.py",
        "tests/test_billing_functional.py",
    ]


def test_every_placeholder_is_substituted():
    files = scaffold.render(_component("billing", "acme_billing"))
    for path, text in files.items():
        assert "${" not in text, path
        assert "$name" not in text and "$package" not in text, path
    assert "svc_billing" not in "".join(files.values())


def test_pyproject_registers_the_component_and_its_options():
    files = scaffold.render(_component("billing"))
    project = tomllib.loads(files["pyproject.toml"])
    assert project["project"]["name"] == "svc-billing"
    assert project["project"]["dependencies"] == [f"svcframe>={svcframe.__version__}"]
    entry_points = project["project"]["entry-points"]
    assert entry_points["svcframe.components"] == {"billing": "svc_billing.manager:BillingManager"}
    assert entry_points["oslo.config.opts"] == {"svc_billing": "svc_billing.opts:list_opts"}
    assert project["tool"]["setuptools"]["packages"] == ["svc_billing"]
    assert project["tool"]["ruff"]["line-length"] == 100


def test_the_sources_define_what_the_template_promises():
    files = scaffold.render(_component("billing"))
    manager = files["svc_billing/manager.py"]
    assert "class BillingManager(Manager):" in manager
    assert 'target = messaging.Target(version="1.0")' in manager
    assert 'service_name = "billing"' in manager
    assert "@periodic_task.periodic_task(" in manager
    rpcapi = files["svc_billing/rpcapi.py"]
    assert "class BillingAPI(RPCAPI):" in rpcapi
    assert 'RPC_TOPIC = "billing"' in rpcapi
    assert "VERSION_ALIASES = {}" in rpcapi
    assert 'self.prepare("hello", host=host)' in rpcapi
    for path, text in files.items():
        if path.endswith(".py"):
            compile(text, path, "exec")
    readme = files["README.md"]
    assert "svc-launch --binary billing --config-file etc/billing.conf" in readme
    assert "svc_billing.manager:BillingManager" in readme


def test_the_sample_config_reads_into_the_component_options(tmp_path):
    project = _write(tmp_path, "billing")
    sys.path.insert(0, str(project))
    try:
        from svc_billing import opts

        conf = cfg.ConfigOpts()
        opts.register_opts(conf)
        conf.register_opt(cfg.StrOpt("state_path"))
        conf(["--config-file", str(project / "etc" / "billing.conf")])
        assert conf.state_path == "state"
        assert conf.billing.workers == 2
        assert conf.billing.greeting == "Hello"
        assert conf.billing.stats_interval == 60
        ((group, options),) = opts.list_opts()
        assert group.name == "billing"
        assert [opt.name for opt in options] == ["workers", "greeting", "stats_interval"]
    finally:
        sys.path.remove(str(project))
        _forget("svc_billing")


def test_the_generated_manager_serves_in_process(tmp_path, svc_service, svc_client, svc_context):
    """The generated classes, imported from the project directory, without installing it."""
    project = _write(tmp_path, "orders")
    sys.path.insert(0, str(project))
    try:
        from svc_orders.manager import OrdersManager
        from svc_orders.rpcapi import OrdersAPI

        service = svc_service(OrdersManager, host="node1")
        api = svc_client(OrdersAPI)
        assert api.hello(svc_context, "Ada", host="node1") == {
            "greeting": "Hello, Ada!",
            "host": "node1",
        }
        assert service.manager._report_greetings(svc_context) == 1
    finally:
        sys.path.remove(str(project))
        _forget("svc_orders")


def _ruff():
    return shutil.which("ruff") or shutil.which("ruff", path=os.path.dirname(sys.executable))


@pytest.mark.parametrize(
    ("name", "package"),
    [("x", None), ("billing", None), (LONGEST_NAME, None), (LONGEST_NAME, LONGEST_PACKAGE)],
)
def test_the_generated_project_passes_ruff(tmp_path, name, package):
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed")
    project = _write(tmp_path, name, package)
    for command in (
        ["check", "--no-cache", "."],
        ["format", "--no-cache", "--check", "--diff", "."],
    ):
        result = subprocess.run(
            [ruff, *command], cwd=project, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_generate_writes_into_a_new_or_empty_directory(tmp_path):
    component = _component("billing")
    written = scaffold.generate(component, tmp_path / "new")
    assert [p.relative_to(tmp_path / "new").as_posix() for p in written] == list(
        scaffold.render(component)
    )
    (tmp_path / "empty").mkdir()
    scaffold.generate(component, tmp_path / "empty")
    assert (tmp_path / "empty" / "svc_billing" / "manager.py").is_file()


def test_generate_refuses_an_existing_directory_unless_forced(tmp_path):
    component = _component("billing")
    dest = tmp_path / "svc-billing"
    scaffold.generate(component, dest)
    (dest / "svc_billing" / "manager.py").write_text("# edited\n")
    (dest / "NOTES").write_text("mine\n")
    with pytest.raises(scaffold.ScaffoldError, match="already exists; use --force"):
        scaffold.generate(component, dest)
    assert (dest / "svc_billing" / "manager.py").read_text() == "# edited\n"
    scaffold.generate(component, dest, force=True)
    assert "class BillingManager" in (dest / "svc_billing" / "manager.py").read_text()
    assert (dest / "NOTES").read_text() == "mine\n"


def test_generate_refuses_a_file_in_the_way(tmp_path):
    (tmp_path / "svc-billing").write_text("")
    with pytest.raises(scaffold.ScaffoldError, match="is not a directory"):
        scaffold.generate(_component("billing"), tmp_path / "svc-billing", force=True)


def _write(tmp_path, name, package=None):
    project = tmp_path / f"svc-{name}"
    scaffold.generate(_component(name, package), project)
    return project


def _component(name, package=None):
    """The Component plan() would give, whatever is installed here."""
    return scaffold.Component(name, package or scaffold.default_package(name))


def _forget(package):
    for module in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[module]
