"""Services that cannot boot: a clear cause, no respawn loop, a bounded time to exit."""

import time

import pytest
from runtime_components import BOOT_FAILURE

pytestmark = [pytest.mark.rabbit, pytest.mark.timeout(60)]

PASSWORD = "Xyzzy-S3cret"


def test_manager_failing_in_init_host_stops_the_launcher_with_status_3(launch):
    service = launch(binary="bootfail")
    status = service.wait(timeout=15)

    assert status == 3, service.stderr()
    assert time.monotonic() - service.started_at < 15
    cause = f"RuntimeError: {BOOT_FAILURE}"
    lines = service.launcher_lines()
    # The same cause from several workers is said once; the verdict counts them.
    failed = [line for line in lines if "of 4 (pid N) failed to boot" in line]
    assert len(failed) == 1, lines
    assert failed[0].endswith(f"failed to boot: {cause}")
    started = [line for line in lines if line.startswith("Started worker")]
    assert 4 <= len(started) <= 4 + 5, lines
    verdict = next(i for i, line in enumerate(lines) if "workers in a row failed to boot" in line)
    # boot_failure_limit (5) workers in a row, then no more respawns.
    assert lines[verdict].startswith(
        f"5 workers in a row failed to boot, the last one with: {cause}."
    )
    assert not [line for line in lines[verdict:] if line.startswith(("Started", "Respawning"))]
    assert lines[-1] == "All workers stopped, exiting with status 3"
    # No traceback, and no "exited with status 3" per worker, without debug.
    assert "Traceback" not in service.stderr()
    assert not [line for line in lines[:verdict] if line.endswith("exited with status 3")]
    assert len(service.stderr().splitlines()) < 40


def test_with_debug_the_worker_tracebacks_are_logged(launch):
    service = launch(binary="bootfail", DEFAULT={"debug": "true"})
    assert service.wait(timeout=15) == 3
    # The worker's own traceback names the manager's line.
    assert "in init_host" in service.stderr()


@pytest.mark.parametrize("debug", [False, True])
def test_manager_failing_in_init_is_one_line_unless_debug(launch, debug):
    service = launch(binary="initfail", workers=1, DEFAULT={"debug": str(debug).lower()})
    assert service.wait(timeout=15) == 3
    if debug:
        assert "Traceback" in service.stderr() and BOOT_FAILURE in service.stderr()
    else:
        assert service.stderr() == (
            f"svc-launch: error: cannot create the service: RuntimeError: {BOOT_FAILURE} "
            "(debug = true shows the traceback)\n"
        )


def test_component_that_cannot_be_imported_is_a_usage_error(launch):
    service = launch(binary="brokenimport")
    status = service.wait(timeout=15)

    assert status == 2
    assert service.stdout() == ""
    assert service.stderr() == (
        "svc-launch: error: Component 'brokenimport' is registered as "
        "'tests.functional.runtime.runtime_broken_component:Manager' but cannot be loaded: "
        "ImportError: libfrobnicate.so.3: cannot open shared object file: "
        "No such file or directory\n"
    )


def test_unreachable_broker_exits_3_without_showing_the_password(launch):
    url = f"rabbit://guest:{PASSWORD}@127.0.0.1:1/"
    # Both modes at once: forked workers, and the service in the launching process.
    runs = [launch(workers=workers, DEFAULT={"transport_url": url}) for workers in (4, 1)]
    statuses = [run.wait(timeout=20) for run in runs]

    assert statuses == [3, 3]
    for run in runs:
        assert time.monotonic() - run.started_at < 20
        output = run.stdout() + run.stderr()
        assert PASSWORD not in output
        assert "rabbit://guest:***@127.0.0.1:1/" in output
        assert "Traceback" not in output
    multi, single = runs
    assert "failed to boot: TransportUnavailable: " in multi.stderr()
    assert "Service failed to start: TransportUnavailable: " in single.stderr()
    assert multi.launcher_lines()[-1] == "All workers stopped, exiting with status 3"
    assert single.launcher_lines("main")[-1] == "Service failed to start, exiting with status 3"
