"""The Grafana dashboard queries only metrics svcframe exports."""

import json
import os
import re

from svcframe import metrics
from svcframe.launcher import _observe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARD = os.path.join(ROOT, "etc", "grafana", "svcframe-dashboard.json")


def exported_names():
    """Every series name svcframe exports, from the metric and collector code itself."""
    sources = [metrics.__file__, _observe.__file__]
    names = set()
    for path in sources:
        with open(path) as stream:
            text = stream.read()
        names.update(re.findall(r'"(svcframe_[a-z_]+)"', text))
    series = set()
    for name in names:
        series.add(name)
        series.update({f"{name}_total", f"{name}_bucket", f"{name}_sum", f"{name}_count"})
    return series


def test_every_query_uses_exported_metrics():
    with open(DASHBOARD) as stream:
        dashboard = json.load(stream)
    exported = exported_names()
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used.update(re.findall(r"\bsvcframe_[a-z_]+", target["expr"]))
    assert used, "the dashboard queries nothing"
    assert used <= exported, sorted(used - exported)
    for needed in (
        "svcframe_rpc_server_requests_total",
        "svcframe_rpc_server_duration_seconds_bucket",
        "svcframe_rpc_backlog",
        "svcframe_workers",
        "svcframe_worker_restarts_total",
        "svcframe_broker_reconnects_total",
    ):
        assert needed in used, needed
