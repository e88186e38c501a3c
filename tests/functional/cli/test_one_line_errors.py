"""svc-manage failures are one line: the retries on the way are not logged again without --debug."""

import importlib.util
import os
import subprocess
import sys

import pytest

SVC_MANAGE = os.path.join(os.path.dirname(sys.executable), "svc-manage")


def manage(tmp_path, config, *args):
    path = tmp_path / "svc.conf"
    path.write_text(config)
    return subprocess.run(
        [SVC_MANAGE, "--config-file", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unreachable_broker_is_one_line(tmp_path):
    config = "[DEFAULT]\ntransport_url = rabbit://guest:Sup3rS3cret@127.0.0.1:1/\n"
    result = manage(tmp_path, config, "rpc", "call", "conductor", "describe", "--timeout", "3")
    assert result.returncode == 1
    assert result.stderr == (
        "svc-manage: error: Unable to connect to the broker at rabbit://guest:***@127.0.0.1:1/ "
        "after 2 attempt(s): [Errno 111] Connection refused\n"
    )
    # With --debug, the retries are there too.
    debug = manage(tmp_path, config, "--debug", "rpc", "call", "conductor", "describe")
    assert "retrying in" in debug.stderr and "Sup3rS3cret" not in debug.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuchdb://svc:Sup3rS3cret@127.0.0.1/test", "invalid [database] connection"),
        ("postgresql+pg8000://svc:Sup3rS3cret@127.0.0.1/test", "needs a database driver"),
    ],
)
def test_a_database_url_without_its_driver_is_one_line(tmp_path, url, message):
    if "pg8000" in url and importlib.util.find_spec("pg8000") is not None:
        pytest.skip("pg8000 is installed here")
    result = manage(tmp_path, f"[database]\nconnection = {url}\n", "service", "list")
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("svc-manage: error: ") and message in line, line
    assert "Sup3rS3cret" not in line
