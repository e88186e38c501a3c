"""Fixtures for the runtime tests: svc-launch as a real process tree on RabbitMQ."""

import socket

import pytest
from runtime_harness import RABBIT_HOST, RABBIT_PORT, Launch, install_components

_reachable = None


def rabbit_reachable():
    global _reachable
    if _reachable is None:
        try:
            socket.create_connection((RABBIT_HOST, RABBIT_PORT), timeout=2).close()
            _reachable = True
        except OSError:
            _reachable = False
    return _reachable


@pytest.fixture(autouse=True)
def _require_rabbit():
    if not rabbit_reachable():
        pytest.skip(f"RabbitMQ is not reachable on {RABBIT_HOST}:{RABBIT_PORT}")


@pytest.fixture(scope="session")
def components_dir(tmp_path_factory):
    """A directory registering the test components; on each service's PYTHONPATH."""
    return install_components(str(tmp_path_factory.mktemp("components")))


@pytest.fixture
def launch(tmp_path, components_dir):
    """``launch(binary=..., workers=..., **sections)``: a started :class:`Launch`.

    Every run is killed (by pid) and its broker entities deleted when the
    test ends, whatever happened.
    """
    launched = []

    def start(binary="conductor", workers=4, env=None, extra_args=(), **sections):
        directory = tmp_path / f"run{len(launched)}"
        directory.mkdir()
        run = Launch(directory, components_dir, binary, workers, env, extra_args, **sections)
        launched.append(run)
        return run.start()

    yield start
    for run in launched:
        run.close()
