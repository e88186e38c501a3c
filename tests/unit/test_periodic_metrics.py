"""Periodic tasks counted and timed, per task and outcome, once metrics are on."""

import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent(
    """
    import sys
    import time
    from oslo_config import cfg
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess
    from svcframe import metrics
    from svcframe.manager import Manager, periodic_task

    class Tasks(Manager):
        @periodic_task.periodic_task(spacing=0.01, run_immediately=True)
        def tidy(self, context):
            pass

        @periodic_task.periodic_task(spacing=0.01, run_immediately=True)
        def explode(self, context):
            raise RuntimeError("boom")

    conf = cfg.ConfigOpts()
    conf([], project="t", default_config_files=[], default_config_dirs=[])
    manager = Tasks(conf=conf)
    manager.periodic_tasks(None)  # metrics off: nothing recorded, nothing wrapped
    assert "_periodic_tasks" not in vars(manager)
    metrics.enable(sys.argv[1])
    time.sleep(0.05)
    manager.periodic_tasks(None)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=sys.argv[1])
    sys.stdout.write(generate_latest(registry).decode())
    """
)


def test_each_run_is_counted_with_its_outcome(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    lines = set(out.splitlines())
    assert 'svcframe_periodic_task_runs_total{outcome="ok",task="tidy"} 1.0' in lines, out
    assert 'svcframe_periodic_task_runs_total{outcome="error",task="explode"} 1.0' in lines, out
    assert 'svcframe_periodic_task_duration_seconds_count{task="tidy"} 1.0' in lines, out
