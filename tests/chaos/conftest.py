"""Fixtures of the chaos suite: private RabbitMQ nodes, the chaos component, the figures.

The normal test run (``tox``, ``.ci/run``) runs the short variant: the
scenarios marked ``full_only`` are skipped and the floods are a tenth of
their size.  ``tox -e chaos`` (SVCFRAME_TEST_CHAOS_FULL=1) runs everything
at full size.  Each test records its figures with ``figures``; they are
printed in a table at the end of the run, failed or not.
"""

import os

import pytest
from chaos_harness import ChaosLaunch, install_chaos_component
from private_rabbit import PrivateCluster, rabbit_available

FULL = os.environ.get("SVCFRAME_TEST_CHAOS_FULL") == "1"

_figures = []


def scale(short, full):
    """``full`` in the full chaos run, ``short`` otherwise."""
    return full if FULL else short


# Scenarios too long for every run, or covered there by a sibling scenario.
full_only = pytest.mark.skipif(not FULL, reason="full chaos run only (tox -e chaos)")


@pytest.fixture(scope="session")
def private_rabbit():
    """A private single RabbitMQ node (chaos1@localhost, port 5681) for the whole run."""
    reason = rabbit_available()
    if reason:
        pytest.skip(f"private RabbitMQ nodes cannot run here: {reason}")
    with PrivateCluster(1) as cluster:
        yield cluster.node(1)


@pytest.fixture
def rabbit_node(private_rabbit):
    """The private node, running and reachable (a test before may have stopped it)."""
    node = private_rabbit
    if not node.running:
        node.start()
    else:
        try:
            node.wait_ready(timeout=5)
        except RuntimeError:
            node.start_app()
    return node


@pytest.fixture(scope="session")
def chaos_components(tmp_path_factory):
    return install_chaos_component(str(tmp_path_factory.mktemp("chaos-components")))


@pytest.fixture
def launch(tmp_path, chaos_components):
    """launch(url, workers=1, **sections): a ChaosLaunch, started; closed after the test."""
    runs = []

    def make(url, workers=1, **sections):
        directory = tmp_path / f"run{len(runs)}"
        directory.mkdir()
        run = ChaosLaunch(directory, chaos_components, url, workers, **sections)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.close()


@pytest.fixture
def figures(request):
    """figures(**values): what this test measured, printed and kept for the summary table."""
    recorded = {}

    def record(**values):
        recorded.update(values)
        print(f"{request.node.name}: {values}")

    yield record
    _figures.append((request.node.name, recorded))


def pytest_terminal_summary(terminalreporter):
    if not _figures:
        return
    terminalreporter.section(f"chaos figures ({'full' if FULL else 'short'} run)")
    for name, values in _figures:
        shown = ", ".join(f"{key}={value}" for key, value in values.items())
        terminalreporter.write_line(f"{name}: {shown}")
