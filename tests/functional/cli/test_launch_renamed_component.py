"""svc-launch --binary worker: the agent under the name it had before, deprecated for a release.

Launched under its old name, the agent runs as before -- same registry
name (svc-worker), same [worker] options -- and the master says once that
the name is deprecated and which one to use.  Launched as ``agent``, it
registers as svc-agent and says nothing of the kind.  Both on the
embedded transport, without a broker.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

BIN = os.path.dirname(sys.executable)
SVC_LAUNCH = os.path.join(BIN, "svc-launch")
SVC_MANAGE = os.path.join(BIN, "svc-manage")
RENAMED = "The component name 'worker' is deprecated"


def registered(config):
    """(binary, host, topic) of every service in the registry, once there is one."""
    deadline = time.monotonic() + 30
    while not (services := manage_json(config, "service", "list")):
        assert time.monotonic() < deadline, "nothing registered"
        time.sleep(0.2)
    return [(s["binary"], s["host"], s["topic"]) for s in services]


def manage_json(config, *args):
    result = subprocess.run(
        [SVC_MANAGE, "--config-file", str(config), *args, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def launch(tmp_path):
    """Start ``svc-launch --binary NAME --workers 2``; stop it and check its exit on the way out."""
    runs = []

    def start(binary, options=""):
        config = tmp_path / f"{binary}.conf"
        config.write_text(
            "[DEFAULT]\nstate_path = state\nreport_interval = 1\nperiodic_enable = false\n"
            "initial_report_delay = 0\nhost = node1\n" + options
        )
        output = tmp_path / f"{binary}.log"
        with open(output, "w") as sink:
            process = subprocess.Popen(
                [SVC_LAUNCH, "--binary", binary, "--workers", "2", "--config-file", str(config)],
                cwd=tmp_path,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        runs.append(process)
        deadline = time.monotonic() + 60
        while "All 2 workers ready" not in output.read_text():
            assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.1)
        return config, output, process.pid

    yield start
    for process in runs:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(30) == 0
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise


def test_the_old_name_runs_the_agent_warns_once_and_keeps_its_registry_name(launch):
    config, output, master = launch("worker", "[worker]\nprogress_interval = 0.5\n")
    text = output.read_text()
    (warning,) = [line for line in text.splitlines() if RENAMED in line]
    # Logged by the master before it forks: the workers do not repeat it.
    assert f" {master} main WARNING svcframe.cmd.launch " in warning
    assert "use --binary agent" in warning
    assert "registers as svc-worker" in warning
    # [worker] is read as [agent], with oslo.config's own deprecation notice.
    assert 'Option "progress_interval" from group "worker" is deprecated.' in text
    # Both workers serve the agent's topic under the old binary name.
    assert text.count("svc-worker serving topic 'worker' as server 'node1' (API 1.1, ") == 2
    assert registered(config) == [("svc-worker", "node1", "worker")]
    # An operator's commands that name svc-worker keep matching it.
    disabled = subprocess.run(
        [SVC_MANAGE, "--config-file", str(config), "service", "disable", "node1", "svc-worker"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert disabled.returncode == 0, disabled.stderr
    assert manage_json(config, "service", "list")[0]["status"] == "disabled"
    (ping,) = manage_json(config, "rpc", "ping", "worker", "--all")
    assert (ping["service"], ping["api_version"], ping["result"]) == ("agent", "1.1", "ok")


def test_the_new_name_registers_as_svc_agent_without_a_warning(launch):
    config, output, _ = launch("agent")
    text = output.read_text()
    assert RENAMED not in text
    assert text.count("svc-agent serving topic 'worker' as server 'node1' (API 1.1, ") == 2
    assert registered(config) == [("svc-agent", "node1", "worker")]
