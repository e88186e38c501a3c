"""Many threads and processes reporting at once never fail and never lose a count."""

import logging
import os
import subprocess
import sys
import threading

import pytest

BINARY = "svc-conductor"
REPORTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reporter.py")


def spawn_reporters(registry, processes, *args):
    return [
        subprocess.Popen(
            [sys.executable, REPORTER, registry.config_path, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]


def wait_reporters(reporters):
    for reporter in reporters:
        _, stderr = reporter.communicate(timeout=120)
        assert reporter.returncode == 0, stderr


@pytest.mark.slow
def test_concurrent_first_reports_from_threads_and_processes(registry, caplog):
    """Everyone creates the same row at once, then a row each: all counted, none fail."""
    caplog.set_level(logging.WARNING)
    threads, reports, processes = 4, 10, 2
    api = registry.api()
    reporters = spawn_reporters(registry, processes, "hammer", "shared", BINARY, threads, reports)

    errors = []
    barrier = threading.Barrier(threads)

    def hammer(n):
        barrier.wait()
        try:
            for _ in range(reports):
                api.driver.report("shared", BINARY)
            for _ in range(reports):
                api.driver.report(f"local-{n}", BINARY)
        except Exception as exc:
            errors.append(exc)

    hammers = [threading.Thread(target=hammer, args=(n,)) for n in range(threads)]
    for thread in hammers:
        thread.start()
    for thread in hammers:
        thread.join()
    wait_reporters(reporters)

    assert errors == []
    records = {record.host: record for record in api.get_all(binary=BINARY)}
    writers = threads * (processes + 1)
    assert records.pop("shared").report_count == writers * reports
    assert len(records) == writers
    assert {record.report_count for record in records.values()} == {reports}
    assert [r for r in caplog.records if r.name.startswith("svcframe")] == []
    api.close()


@pytest.mark.slow
def test_many_memberships_on_one_service(registry, caplog):
    """join() from several threads and processes on one (host, binary): one row, no error."""
    caplog.set_level(logging.WARNING)
    api = registry.api()
    seconds, threads, processes = 2.5, 4, 2
    reporters = spawn_reporters(registry, processes, "join", "node1", BINARY, threads, seconds)
    memberships = [api.join("node1", BINARY) for _ in range(threads)]
    wait_reporters(reporters)
    for membership in memberships:
        membership.stop()

    (record,) = api.get_all()
    joined = threads * (processes + 1)
    # Each membership reports at once, then every second: at least 2 each in 2.5 s.
    assert record.report_count >= 2 * joined
    assert api.service_is_up(record)
    assert [r for r in caplog.records if r.name.startswith("svcframe")] == []
    api.close()
