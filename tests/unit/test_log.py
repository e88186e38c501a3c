import json
import logging
import subprocess
import sys

import pytest
from oslo_config import cfg

from svcframe import log


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    log.register_options(conf)
    conf([])
    return conf


@pytest.fixture(autouse=True)
def restore_tag():
    tag = log.get_worker_tag()
    yield
    log.set_worker_tag(tag)


def test_default_formats_show_the_worker_tag(conf):
    assert "%(svc_worker)s" in conf.logging_default_format_string
    assert "%(svc_worker)s" in conf.logging_context_format_string
    assert "%(svc_worker)s" in conf.logging_exception_prefix


def test_records_carry_the_current_tag(conf, caplog):
    log._install_record_factory()
    log.set_worker_tag("worker-3")
    logging.getLogger("svcframe.test").warning("hello")
    log.set_worker_tag("master")
    logging.getLogger("svcframe.test").warning("again")
    assert [r.svc_worker for r in caplog.records] == ["worker-3", "master"]


def test_record_factory_is_installed_once():
    log._install_record_factory()
    factory = logging.getLogRecordFactory()
    log._install_record_factory()
    assert logging.getLogRecordFactory() is factory


JSON_SCRIPT = """
import logging
from oslo_config import cfg
from svcframe import log
conf = cfg.ConfigOpts()
log.register_options(conf)
conf([])
conf.set_override("use_json", True)
conf.set_override("use_stderr", True)
log.setup(conf, "svcframe-test")
log.set_worker_tag("worker-2")
logging.getLogger("svcframe.test").warning("hello")
"""


def test_json_lines_carry_the_tag():
    # In a child: oslo.log's setup reconfigures the whole logging tree.
    result = subprocess.run(
        [sys.executable, "-c", JSON_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert json.loads(line)["extra"]["svc_worker"] == "worker-2"
