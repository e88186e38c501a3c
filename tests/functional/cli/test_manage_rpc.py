"""svc-manage rpc against a conductor served over RabbitMQ."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from svcframe.testing import ServiceRunner, make_test_conf

RABBIT_URL = "rabbit://guest:guest@127.0.0.1:5672/"

pytestmark = pytest.mark.rabbit


@pytest.fixture
def conductor(tmp_path):
    """A conductor on host 'node1' and the config file svc-manage needs to reach it."""
    conf = make_test_conf(tmp_path / "state", RABBIT_URL, report_interval=1)
    runner = ServiceRunner(conf)
    runner.start("conductor", host="node1")
    config_file = tmp_path / "svc.conf"
    config_file.write_text(
        "[DEFAULT]\n"
        f"transport_url = {RABBIT_URL}\n"
        f"control_exchange = {conf.control_exchange}\n"
        f"state_path = {conf.state_path}\n"
        "rpc_response_timeout = 5\n"
    )
    yield config_file
    runner.close()


def svc_manage(config_file, *args):
    executable = shutil.which("svc-manage") or os.path.join(
        os.path.dirname(sys.executable), "svc-manage"
    )
    return subprocess.run(
        [executable, "--config-file", str(config_file), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ping_all_lists_every_up_host_with_its_latency(conductor):
    result = svc_manage(conductor, "rpc", "ping", "conductor", "--all", "--format", "json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["host"] == "node1" and row["service"] == "conductor" and row["result"] == "ok"
    assert (row["api_version"], row["release"]) == ("1.1", "beta")
    assert row["pid"] == os.getpid()
    assert 0 < row["latency_ms"] < 5000
    # Served without a launcher: no configuration generation to tell.
    assert (row["config_generation"], row["config_digest"], row["config_workers"]) == (
        None,
        None,
        None,
    )


def test_ping_table_shows_each_server_s_version(conductor):
    result = svc_manage(conductor, "rpc", "ping", "conductor", "--all")
    assert result.returncode == 0, result.stderr
    header, row = (
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in result.stdout.splitlines()[1:4:2]
    )
    assert dict(zip(header, row, strict=True))["Version"] == "1.1 (beta)"


def test_call_prints_the_result_as_a_table(conductor):
    result = svc_manage(conductor, "rpc", "call", "conductor", "describe", "--server", "node1")
    assert result.returncode == 0, result.stderr
    assert "| service          | conductor |" in result.stdout


def test_call_with_json_output_round_trips(conductor):
    result = svc_manage(conductor, "rpc", "call", "conductor", "describe", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["host"] == "node1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["describe2"], "no such method 'describe2'"),
        (["describe", "--version", "2.0"], "does not support RPC version 2.0"),
        (["describe", "--arg", "x=1"], "unexpected argument 'x'"),
        (["describe", "--server", "elsewhere"], "No server is listening on 'conductor.elsewhere'"),
        (["describe", "--arg", "not an identifier"], "expected KEY=VALUE"),
    ],
)
def test_errors_are_one_line_and_a_non_zero_exit(conductor, args, message):
    result = svc_manage(conductor, "rpc", "call", "conductor", *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_cast_returns_at_once(conductor):
    result = svc_manage(conductor, "rpc", "cast", "conductor", "describe", "--fanout")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
