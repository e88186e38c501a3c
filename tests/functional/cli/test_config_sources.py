"""Which config file both tools read, and what its relative paths are relative to.

A conductor on the embedded transport, started from one directory with a
config file whose ``state_path`` is relative; svc-manage run from other
directories, with the same file named relatively or found by the default
search, reaches it.  Broken configurations get the same line and exit
status from both tools.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

from svcframe.testing import wait_until

BIN = os.path.dirname(sys.executable)
SVC_LAUNCH = os.path.join(BIN, "svc-launch")
SVC_MANAGE = os.path.join(BIN, "svc-manage")
CONFIG = "[DEFAULT]\nstate_path = state\nreport_interval = 1\nperiodic_enable = false\n"


def run(args, cwd, env=None, timeout=60):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def isolated_env(home):
    """The environment with HOME elsewhere, so the default search sees only what a test puts."""
    return dict(os.environ, HOME=str(home))


@pytest.fixture
def layout(tmp_path):
    """home/, etc/svcframe.conf (state_path = state), and two unrelated working directories."""
    for name in ("home", "etc", "here", "there"):
        (tmp_path / name).mkdir()
    (tmp_path / "etc" / "svcframe.conf").write_text(CONFIG)
    return tmp_path


@pytest.fixture
def conductor(layout):
    """A conductor launched from here/ with --config-file ../etc/svcframe.conf."""
    process = subprocess.Popen(
        [SVC_LAUNCH, "--binary", "conductor", "--workers", "1", "--host", "node1"]
        + ["--config-file", "../etc/svcframe.conf"],
        cwd=layout / "here",
        env=isolated_env(layout / "home"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        config = str(layout / "etc" / "svcframe.conf")

        def registered():
            assert process.poll() is None, process.stderr.read()
            return manage_json(layout, layout, "service", "list", config=config)

        wait_until(registered, 60, interval=0.2, message="the conductor registered")
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()


def manage_json(layout, cwd, *args, config=None):
    options = ["--config-file", config] if config else []
    result = run(
        [SVC_MANAGE, *options, *args, "--format", "json"],
        cwd=cwd,
        env=isolated_env(layout / "home"),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_relative_state_path_is_relative_to_the_config_file(layout, conductor):
    assert not (layout / "here" / "state").exists()
    for cwd, config in (
        (layout / "there", "../etc/svcframe.conf"),
        (layout / "etc", "svcframe.conf"),
        (layout, str(layout / "etc" / "svcframe.conf")),
    ):
        (service,) = manage_json(layout, cwd, "service", "list", config=config)
        assert (service["binary"], service["host"]) == ("svc-conductor", "node1")
        reply = manage_json(
            layout, cwd, "rpc", "call", "conductor", "describe", "--timeout", "30", config=config
        )
        assert reply["host"] == "node1"


def test_without_config_file_both_tools_search_the_same_places(layout, conductor):
    # svcframe.conf in ~/.svcframe/ is the first place searched.
    dot_dir = layout / "home" / ".svcframe"
    dot_dir.mkdir()
    (dot_dir / "svcframe.conf").write_text(f"[DEFAULT]\nstate_path = {layout / 'etc' / 'state'}\n")
    (service,) = manage_json(layout, layout / "there", "service", "list")
    assert service["host"] == "node1"

    result = run(
        [SVC_MANAGE, "--debug", "service", "list"],
        cwd=layout / "there",
        env=isolated_env(layout / "home"),
    )
    assert result.returncode == 0, result.stderr
    assert f"Configuration files: {dot_dir / 'svcframe.conf'}" in result.stderr
    assert f"State directory: {layout / 'etc' / 'state'}" in result.stderr


def test_a_call_nobody_answers_says_where_it_looked(layout):
    result = run(
        [SVC_MANAGE, "rpc", "call", "conductor", "describe", "--timeout", "1"],
        cwd=layout / "there",
        env=isolated_env(layout / "home"),
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    # The embedded transport knows at once that nobody consumes the topic.
    assert "No server is listening on 'conductor'" in line
    assert "is the service running with the same state_path?" in line
    assert "transport embedded://" in line
    assert "; state directory /" in line
    assert "config files: none (no --config-file, and none of " in line
    assert str(layout / "home" / ".svcframe" / "svcframe.conf") in line


BROKEN = {
    "missing": (None, "cannot read config file(s): {path} (not found)"),
    "unparsable": (
        "[DEFAULT\nhost = x\n",
        "cannot parse config file {path}: line 1: Invalid section (must end with ]): '[DEFAULT'",
    ),
    "bad value": (
        "[DEFAULT]\nreport_interval = abc\n",
        "invalid value for option report_interval in {path}: "
        "invalid literal for int() with base 10: 'abc'",
    ),
    "bad value read in a worker": (
        "[oslo_messaging_rabbit]\nheartbeat_timeout_threshold = abc\n",
        "invalid value for option heartbeat_timeout_threshold in {path}: "
        "invalid literal for int() with base 10: 'abc'",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_config_is_one_line_and_exit_2_in_both_tools(tmp_path, case):
    content, expected = BROKEN[case]
    path = tmp_path / "svc.conf"
    if content is not None:
        path.write_text(content)
    expected = expected.format(path=path)
    results = [
        (
            "svc-launch",
            run([SVC_LAUNCH, "--binary", "conductor", "--config-file", "svc.conf"], tmp_path),
        )
    ]
    if "worker" not in case:
        # svc-manage reads only the options its command needs.
        manage = run([SVC_MANAGE, "--config-file", "svc.conf", "service", "list"], tmp_path)
        results.append(("svc-manage", manage))
    for tool, result in results:
        assert (result.returncode, result.stdout, result.stderr) == (
            2,
            "",
            f"{tool}: error: {expected}\n",
        )


def test_unknown_options_exit_2_in_both_tools(tmp_path):
    launch = run([SVC_LAUNCH, "--binary", "conductor", "--no-such-option"], tmp_path)
    manage = run([SVC_MANAGE, "--no-such-option", "service", "list"], tmp_path)
    for tool, result in (("svc-launch", launch), ("svc-manage", manage)):
        assert result.returncode == 2
        assert result.stderr.splitlines()[-1] == (
            f"{tool}: error: unrecognized arguments: --no-such-option"
        )


def test_svc_launch_says_at_debug_which_files_it_read(layout):
    config = layout / "etc" / "svcframe.conf"
    # A broker nobody listens on: the service stops at once, after its first log lines.
    config.write_text(CONFIG + "transport_url = rabbit://guest:guest@127.0.0.1:1/\n")
    result = run(
        [SVC_LAUNCH, "--binary", "conductor", "--workers", "1", "--debug"]
        + ["--config-file", "../etc/svcframe.conf"],
        cwd=layout / "here",
        env=isolated_env(layout / "home"),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert f"Configuration files: {config}" in output
    assert f"State directory: {layout / 'etc' / 'state'}" in output
