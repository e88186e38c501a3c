"""A generated component, end to end: installed, its own tests run, launched and called.

The project is installed in editable mode into this environment for the
module's tests and uninstalled afterwards, under a name of its own so that
concurrent runs sharing the environment do not meet.
"""

import importlib.metadata
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import uuid

import pytest

from svcframe.testing import wait_until

RABBIT_URL = "rabbit://guest:guest@127.0.0.1:5672/"
NAME = f"scaf{uuid.uuid4().hex[:10]}"
BIN = os.path.dirname(sys.executable)

pytestmark = [pytest.mark.rabbit, pytest.mark.slow, pytest.mark.timeout(180)]


def _run(args, timeout, **kwargs):
    return subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, timeout=timeout, **kwargs
    )


def _can_build_editable_without_isolation():
    """pip --no-build-isolation needs setuptools >= 70.1, or >= 64 with wheel, right here."""
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return False
    major, minor = (int(part) for part in re.findall(r"\d+", version)[:2])
    if (major, minor) >= (70, 1):
        return True
    return major >= 64 and importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The generated project directory, installed (pip install -e) for this module's tests."""
    dest = tmp_path_factory.mktemp("scaffold") / f"svc-{NAME}"
    result = _run(
        [os.path.join(BIN, "svc-manage"), "component", "new", NAME, "--dest", dest], timeout=60
    )
    assert result.returncode == 0, result.stderr
    pip = [sys.executable, "-m", "pip"]
    isolation = ["--no-build-isolation"] if _can_build_editable_without_isolation() else []
    try:
        result = _run([*pip, "install", "-q", "--no-deps", *isolation, "-e", dest], timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
        yield dest
    finally:
        _run([*pip, "uninstall", "-y", "-q", f"svc-{NAME}"], timeout=60)


def _wait_for_broker(timeout=30.0):
    wait_until(
        lambda: socket.create_connection(("127.0.0.1", 5672), timeout=1.0).close() or True,
        timeout,
        interval=0.5,
        ignore=OSError,
        message="RabbitMQ listening on 127.0.0.1:5672",
    )


def test_the_generated_tests_pass_on_fake_and_on_rabbitmq(project):
    _wait_for_broker()
    env = {**os.environ, "SVCFRAME_TEST_TRANSPORT_URL": RABBIT_URL}
    result = _run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", project / "tests"],
        timeout=120,
        cwd=project,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Five unit tests (fake://) and two functional ones (RabbitMQ): none skipped.
    assert re.search(r"^7 passed", result.stdout, re.MULTILINE), result.stdout


def _wait_in(output, launcher, found, timeout=30):
    """Poll the launcher's output until ``found(text)`` is true; return that."""

    def check():
        text = output.read_text()
        result = found(text)
        assert result or launcher.poll() is None, text
        return result

    return wait_until(
        check, timeout, interval=0.1, message=lambda: f"the line in:\n{output.read_text()}"
    )


def test_svc_launch_runs_it_and_svc_manage_calls_it(project, tmp_path):
    # As the generated README says: from the project directory, its sample config.
    config = os.path.join("etc", f"{NAME}.conf")
    assert "state_path = state\n" in (project / config).read_text()
    output = tmp_path / "launch.log"
    with open(output, "wb") as log:
        launcher = subprocess.Popen(
            [os.path.join(BIN, "svc-launch"), "--binary", NAME, "--config-file", config]
            + ["--workers", "2"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=project,
            start_new_session=True,
        )
    try:
        _wait_in(output, launcher, lambda text: "All 2 workers ready" in text)
        # The state is next to the config file, whatever the working directory.
        assert (project / "etc" / "state").is_dir()

        result = _run(
            [os.path.join(BIN, "svc-manage"), "--config-file", project / config, "rpc", "call"]
            + [NAME, "hello", "--arg", "name=Ada", "--format", "json", "--timeout", "10"],
            timeout=60,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["greeting"] == "Hello, Ada!"

        # A new greeting on SIGHUP, then a worker killed: its replacement
        # greets with the one on disk too.
        config_file = project / config
        config_file.write_text(config_file.read_text() + f"\n[{NAME}]\ngreeting = Bonjour\n")
        launcher.send_signal(signal.SIGHUP)
        _wait_in(output, launcher, lambda text: "Reload done" in text)
        (victim,) = re.findall(r"Started worker 1 of 2 \(pid (\d+)\)", output.read_text())
        os.kill(int(victim), signal.SIGKILL)
        respawned = _wait_in(
            output,
            launcher,
            lambda text: re.search(r"Worker 1 of 2 \(pid (\d+)\) ready", text.split(victim)[-1]),
        )[1]
        assert (
            f"{respawned} worker-1 INFO svc_{NAME}.manager [-] "
            f"Reloaded [{NAME}]: greeting='Bonjour'" in output.read_text()
        )
        for _ in range(4):
            result = _run(
                [os.path.join(BIN, "svc-manage"), "--config-file", config_file, "rpc", "call", NAME]
                + ["hello", "--arg", "name=Ada", "--format", "json", "--timeout", "10"],
                timeout=60,
                cwd=tmp_path,
            )
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout)["greeting"] == "Bonjour, Ada!"

        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=30) == 0, output.read_text()
        assert "All workers stopped, exiting with status 0" in output.read_text()
    finally:
        if launcher.poll() is None:
            # The master and its workers: the process group the launcher leads.
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait(timeout=10)
