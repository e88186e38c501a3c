"""Fixtures for the servicegroup tests end to end: svc-launch, svc-manage, each registry.

The running service comes from the runtime suite's harness; the registry
backends (a private PostgreSQL schema and MariaDB database per session,
Redis, a throw-away PostgreSQL cluster) come from the servicegroup suite's
fixtures, loaded from their files so that both suites share one definition.
"""

import importlib.util
import os
import socket
import sys

import pytest
import sqlalchemy as sa

HERE = os.path.dirname(os.path.abspath(__file__))
FUNCTIONAL = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(FUNCTIONAL, "runtime"))

from runtime_harness import (  # noqa: E402
    RABBIT_HOST,
    RABBIT_PORT,
    Launch,
    install_components,
    unique,
)


def _load(name, *path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(FUNCTIONAL, *path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_servicegroup = _load("servicegroup_suite_conftest", "servicegroup", "conftest.py")
_outage = _load("servicegroup_suite_outage", "servicegroup", "test_sg_outage.py")

# Fixtures reused as they are.
postgresql_url = _servicegroup.postgresql_url
mariadb_url = _servicegroup.mariadb_url
redis_client = _servicegroup.redis_client
postgres_cluster = _outage.postgres_cluster
REDIS_URL = _servicegroup.REDIS_URL
OUTAGE_PASSWORD = _outage.PASSWORD

BACKENDS = ("sqlite", "postgresql", "mariadb", "redis")


@pytest.fixture(autouse=True)
def _require_rabbit():
    try:
        socket.create_connection((RABBIT_HOST, RABBIT_PORT), timeout=2).close()
    except OSError:
        pytest.skip(f"RabbitMQ is not reachable on {RABBIT_HOST}:{RABBIT_PORT}")


@pytest.fixture(scope="session")
def components_dir(tmp_path_factory):
    return install_components(str(tmp_path_factory.mktemp("components")))


@pytest.fixture
def launch(tmp_path, components_dir):
    """``launch(workers=..., **sections)``: a started svc-launch of the conductor."""
    launched = []

    def start(workers=2, **sections):
        directory = tmp_path / f"run{len(launched)}"
        directory.mkdir()
        run = Launch(directory, components_dir, "conductor", workers, **sections)
        launched.append(run)
        return run.start()

    yield start
    for run in launched:
        run.close()


def _delete_rows(url, host):
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM services WHERE host = :host"), {"host": host})
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def registry(request):
    """(backend, config sections, host) of a registry; the host's records go at the end."""
    backend = request.param
    host = unique("sg-e2e-")
    sections = {"database": {"connect_timeout": 3}}
    if backend in ("postgresql", "mariadb"):
        url = request.getfixturevalue(f"{backend}_url")
        sections["database"]["connection"] = url
        yield backend, sections, host
        _delete_rows(url, host)
    elif backend == "redis":
        client = request.getfixturevalue("redis_client")
        prefix = f"svcframe-e2e:{unique('')}"
        sections["DEFAULT"] = {"servicegroup_driver": "redis"}
        sections["servicegroup_redis"] = {"url": REDIS_URL, "key_prefix": prefix}
        yield backend, sections, host
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    else:
        yield backend, sections, host
