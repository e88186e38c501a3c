"""The svc-launch command line: help, usage errors, and the single-process mode."""

import os
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest
from runtime_harness import SVC_LAUNCH, run_cli

from svcframe.testing import wait_until

pytestmark = [pytest.mark.rabbit, pytest.mark.timeout(60)]


def test_help_lists_the_options_and_the_installed_components(components_dir):
    result = run_cli(SVC_LAUNCH, "--help", env={"PYTHONPATH": components_dir})

    assert result.returncode == 0, result.stderr
    for option in ("--binary NAME", "--workers N", "--config-file PATH"):
        assert option in result.stdout
    epilog = " ".join(result.stdout.split()).split("Installed components: ")[1]
    installed = epilog.rstrip(".").split(", ")
    assert installed == sorted(installed)
    assert {"bootfail", "brokenimport", "conductor", "slowpoke"} <= set(installed)
    assert result.stderr == ""


@pytest.fixture
def good_config(tmp_path):
    path = tmp_path / "good.conf"
    path.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n")
    return str(path)


@pytest.mark.parametrize(
    "case",
    [
        "missing config file",
        "broken config file",
        "unknown binary",
        "missing --binary",
        "invalid --workers",
        "invalid host in the config file",
    ],
)
def test_usage_errors_are_one_line_and_exit_2(case, tmp_path, good_config):
    broken = tmp_path / "broken.conf"
    broken.write_text("[DEFAULT\nhost = x\n")
    bad_host = tmp_path / "bad_host.conf"
    bad_host.write_text("[DEFAULT]\nhost = not a host!\n")
    missing = tmp_path / "missing.conf"
    args, expected = {
        "missing config file": (
            ["--binary", "conductor", "--config-file", str(missing)],
            f"cannot read config file(s): {missing} (not found)",
        ),
        "broken config file": (
            ["--binary", "conductor", "--config-file", str(broken)],
            f"cannot parse config file {broken}: line 1: Invalid section (must end with ]): "
            "'[DEFAULT'",
        ),
        "unknown binary": (
            ["--binary", "nosuchthing", "--config-file", good_config],
            "No component named 'nosuchthing' is installed (installed: ",
        ),
        "missing --binary": (
            ["--config-file", good_config],
            "value required for option binary in group [DEFAULT]",
        ),
        "invalid --workers": (
            ["--binary", "conductor", "--config-file", good_config, "--workers", "0"],
            "invalid configuration: --workers (or [DEFAULT] workers in a config file): "
            "Invalid Integer(min=1) value: 0",
        ),
        "invalid host in the config file": (
            ["--binary", "conductor", "--config-file", str(bad_host)],
            "invalid configuration: --host (or [DEFAULT] host in a config file): "
            "Invalid HostDomain value: not a host!",
        ),
    }[case]

    result = run_cli(SVC_LAUNCH, *args, env={"PYTHONPATH": ""})

    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"svc-launch: error: {expected}")
    if case == "unknown binary":
        assert "conductor" in line
    assert "Traceback" not in result.stderr


def test_one_worker_serves_in_process_and_drains_on_sigterm(launch):
    service = launch(binary="slowpoke", workers=1)
    service.wait_line("Service ready", timeout=20)

    with service.client() as client:
        answer = client.call("describe")
        assert answer == {
            "host": service.host,
            "pid": service.pid,
            "worker": "main",
            "mood": "calm",
        }
        with client_call_in_thread(client, "sleep", seconds=2, token="last") as reply:
            wait_until(
                lambda: os.listdir(service.marker_dir) == ["last"], 5, message="the call running"
            )
            service.kill(signal.SIGTERM)
            result = reply()
        assert service.wait(timeout=15) == 0

    assert (result["pid"], result["worker"], result["token"]) == (service.pid, "main", "last")
    assert service.launcher_lines("main") == [
        "Service ready",
        "Caught SIGTERM, stopping the service",
        "Service stopped, exiting with status 0",
    ]
    assert not [line for line in service.lines() if "Started worker" in line]


class client_call_in_thread:
    """``with client_call_in_thread(client, method, **kw) as reply:`` ... ``reply()``."""

    def __init__(self, client, method, **kwargs):
        self._pool = ThreadPoolExecutor(1)
        self._future = self._pool.submit(client.call, method, timeout=20, **kwargs)

    def __enter__(self):
        return lambda: self._future.result(timeout=30)

    def __exit__(self, *exc_info):
        self._pool.shutdown(wait=True)
