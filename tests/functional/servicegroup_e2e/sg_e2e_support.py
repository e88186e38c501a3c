"""What the servicegroup end-to-end tests share with the other functional suites.

The running service comes from the runtime suite's harness; the registry
backends (a private PostgreSQL schema and MariaDB database per session,
Redis, a throw-away PostgreSQL cluster) from the servicegroup suite's
fixtures, loaded from their files so that both suites share one definition.
"""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FUNCTIONAL = os.path.dirname(HERE)
if os.path.join(FUNCTIONAL, "runtime") not in sys.path:
    sys.path.insert(0, os.path.join(FUNCTIONAL, "runtime"))

import runtime_harness as harness  # noqa: E402


def _load(name, *path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(FUNCTIONAL, *path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


servicegroup_suite = _load("servicegroup_suite_conftest", "servicegroup", "conftest.py")
outage_suite = _load("servicegroup_suite_outage", "servicegroup", "test_sg_outage.py")

__all__ = ["OUTAGE_PASSWORD", "REDIS_URL", "harness", "sync_schema"]

REDIS_URL = servicegroup_suite.REDIS_URL
OUTAGE_PASSWORD = outage_suite.PASSWORD
sync_schema = servicegroup_suite._sync_schema
