"""Fixtures for the servicegroup tests end to end: svc-launch, svc-manage, each registry."""

import socket

import pytest
import sqlalchemy as sa
from sg_e2e_support import REDIS_URL, harness, outage_suite, servicegroup_suite

# The servicegroup suite's fixtures, reused as they are.
postgresql_url = servicegroup_suite.postgresql_url
mariadb_url = servicegroup_suite.mariadb_url
redis_client = servicegroup_suite.redis_client
postgres_cluster = outage_suite.postgres_cluster

BACKENDS = ("sqlite", "postgresql", "mariadb", "redis")


@pytest.fixture(autouse=True)
def _require_rabbit():
    try:
        socket.create_connection((harness.RABBIT_HOST, harness.RABBIT_PORT), timeout=2).close()
    except OSError:
        pytest.skip(f"RabbitMQ is not reachable on {harness.RABBIT_HOST}:{harness.RABBIT_PORT}")


@pytest.fixture(scope="session")
def components_dir(tmp_path_factory):
    return harness.install_components(str(tmp_path_factory.mktemp("components")))


@pytest.fixture
def launch(tmp_path, components_dir):
    """``launch(workers=..., **sections)``: a started svc-launch of the conductor."""
    launched = []

    def start(workers=2, **sections):
        directory = tmp_path / f"run{len(launched)}"
        directory.mkdir()
        run = harness.Launch(directory, components_dir, "conductor", workers, **sections)
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
    host = harness.unique("sg-e2e-")
    sections = {"database": {"connect_timeout": 3}}
    if backend in ("postgresql", "mariadb"):
        url = request.getfixturevalue(f"{backend}_url")
        sections["database"]["connection"] = url
        yield backend, sections, host
        _delete_rows(url, host)
    elif backend == "redis":
        client = request.getfixturevalue("redis_client")
        prefix = f"svcframe-e2e:{harness.unique('')}"
        sections["DEFAULT"] = {"servicegroup_driver": "redis"}
        sections["servicegroup_redis"] = {"url": REDIS_URL, "key_prefix": prefix}
        yield backend, sections, host
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    else:
        yield backend, sections, host
