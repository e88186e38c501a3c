"""svc-manage service check: an exit status for scripts and probes."""

import subprocess

import pytest

BINARY = "svc-conductor"

pytestmark = pytest.mark.parametrize("registry", ["sqlite"], indirect=True)


def check(registry, *args):
    command = registry.manage_command("service", "check", *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_check_follows_state_and_status(registry):
    registry.set_options("DEFAULT", service_down_time=600, host="node1")
    api = registry.api()
    api.driver.report("node1", BINARY, topic="conductor")
    api.close()

    result = check(registry, BINARY)
    assert (result.returncode, result.stdout) == (0, "svc-conductor on node1: up, enabled\n")
    assert check(registry, "--host", "node1", BINARY).returncode == 0

    run = registry.manage_command
    subprocess.run(run("service", "disable", "node1", BINARY), check=True, timeout=60)
    result = check(registry, BINARY)
    assert (result.returncode, result.stdout) == (1, "svc-conductor on node1: up, disabled\n")
    subprocess.run(run("service", "enable", "node1", BINARY), check=True, timeout=60)
    subprocess.run(run("service", "force-down", "node1", BINARY), check=True, timeout=60)
    result = check(registry, BINARY)
    assert (result.returncode, result.stdout) == (1, "svc-conductor on node1: down, enabled\n")

    result = check(registry, "--host", "ghost", BINARY)
    assert (result.returncode, result.stdout) == (1, "svc-conductor on ghost: not registered\n")
    assert result.stderr == ""
