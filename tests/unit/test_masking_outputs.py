"""Every output a password could reach masks it: log lines, tracebacks, STATUS=, titles, errors."""

import logging
import socket
import subprocess
import sys

import pytest

from svcframe import log, systemd
from svcframe.cmd import errors

SECRET = "s3,cr/et@x"
URL = f"postgresql://svc:{SECRET}@db/test?password={SECRET}"

LOG_SCRIPT = f"""
import logging
from oslo_config import cfg
from svcframe import log
conf = cfg.ConfigOpts()
log.register_options(conf)
conf([])
conf.set_override("use_stderr", True)
conf.set_override("debug", True)
log.setup(conf, "svcframe-test")
url = {URL!r}
for name in ("kombu.connection", "sqlalchemy.engine", "redis", "svcframe.test"):
    logger = logging.getLogger(name)
    logger.debug("debug %s", url)
    logger.info("info " + url)
    logger.warning("warning %(url)s", {{"url": url}})
try:
    raise RuntimeError("cannot connect to " + url)
except RuntimeError:
    logging.getLogger("svcframe.test").exception("failed")
logging.getLogger("svcframe.test").error("unchained %s", "plain text")
"""


def test_log_lines_of_every_logger_and_level_and_tracebacks_are_masked():
    result = subprocess.run(
        [sys.executable, "-c", LOG_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    output = result.stderr
    assert "s3" not in output
    # 3 levels x 4 loggers, less sqlalchemy's debug and info (oslo.log's
    # default_log_levels), plus the exception in the message and the traceback.
    assert output.count("postgresql://svc:***@db/test?password=***") == 12
    assert "RuntimeError: cannot connect to postgresql://svc:***@db/test" in output
    assert "unchained plain text" in output


def test_a_handler_added_later_gets_masked_messages(caplog):
    log.mask_secrets()
    logging.getLogger("kombu.test").warning("to %s", URL)
    assert SECRET not in caplog.text
    assert "postgresql://svc:***@db/test" in caplog.text


@pytest.fixture
def listener(tmp_path, monkeypatch):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    yield sock
    sock.close()


def test_systemd_status_is_masked(listener):
    systemd.notify_status(f"failed to start: OperationalError: {URL}")
    assert listener.recv(4096).decode() == (
        "STATUS=failed to start: OperationalError: postgresql://svc:***@db/test?password=***"
    )


def test_process_titles_are_masked():
    # In a fresh process: setproctitle cannot change the title of a process
    # whose argv memory an earlier test moved (it then reads back '').
    code = (
        "import sys, setproctitle\n"
        "from svcframe.launcher import _proctitle\n"
        "_proctitle.set_title('svc-conductor: ' + sys.argv[1])\n"
        "print(setproctitle.getproctitle())\n"
        "print(open('/proc/self/cmdline', 'rb').read().split(b'\\0')[0].decode())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, URL], capture_output=True, text=True, timeout=30, check=True
    ).stdout.splitlines()
    masked = "svc-conductor: postgresql://svc:***@db/test?password=***"
    assert out[0] == masked
    # What ps and every local user see.
    assert out[1].startswith(masked)
    assert SECRET not in "\n".join(out)


def test_command_errors_are_masked(capsys):
    assert errors.fail("svc-manage", f"cannot connect to {URL}", 2) == 2
    assert capsys.readouterr().err == (
        "svc-manage: error: cannot connect to postgresql://svc:***@db/test?password=***\n"
    )


def test_command_tracebacks_are_masked(capsys):
    try:
        raise RuntimeError(f"cannot connect to {URL}")
    except RuntimeError:
        assert errors.fail_with_traceback() == errors.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.endswith(
        "RuntimeError: cannot connect to postgresql://svc:***@db/test?password=***\n"
    )
    assert SECRET not in err
