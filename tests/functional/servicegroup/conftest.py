"""Registry backends for the servicegroup suite: SQLite, PostgreSQL, MariaDB, Redis.

Server URLs come from SVCFRAME_TEST_POSTGRESQL_URL, SVCFRAME_TEST_MYSQL_URL and
SVCFRAME_TEST_REDIS_URL (loopback defaults).  Each session works in a fresh
PostgreSQL schema and a fresh MariaDB database, dropped at the end; each
Redis test uses its own key prefix and deletes its keys.
"""

import os
import sys
import uuid

import pytest
import redis
import sqlalchemy as sa

from svcframe import servicegroup
from svcframe.cmd.manage import load_config
from svcframe.conf import database as database_conf
from svcframe.servicegroup.drivers.db import DbDriver

POSTGRESQL_URL = os.environ.get(
    "SVCFRAME_TEST_POSTGRESQL_URL", "postgresql+psycopg2://postgres@127.0.0.1/test"
)
MYSQL_URL = os.environ.get("SVCFRAME_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1/test")
REDIS_URL = os.environ.get("SVCFRAME_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

BACKENDS = ("sqlite", "postgresql", "mariadb", "redis")

# Short enough for a bounded suite, long enough for a loaded 2-core machine.
REPORT_INTERVAL = 1
SERVICE_DOWN_TIME = 3

HERE = os.path.dirname(os.path.abspath(__file__))


def _session_token():
    return uuid.uuid4().hex[:10]


def _server_engine(url):
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.skip(f"database not reachable ({exc.orig})")
    return engine


def _sync_schema(url):
    conf = load_config([], [])
    database_conf.register_opts(conf)
    conf.set_override("connection", url, group="database")
    driver = DbDriver(conf, service_down_time=SERVICE_DOWN_TIME)
    driver.sync_schema()
    driver.close()


@pytest.fixture(scope="session")
def postgresql_url():
    """A URL whose search_path is a schema of its own, with the registry schema synced."""
    engine = _server_engine(POSTGRESQL_URL)
    schema = f"sg_{_session_token()}"
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = sa.make_url(POSTGRESQL_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    url = url.render_as_string(hide_password=False)
    try:
        _sync_schema(url)
        yield url
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture(scope="session")
def mariadb_url():
    """A URL on a database of its own, with the registry schema synced."""
    engine = _server_engine(MYSQL_URL)
    database = f"sg_{_session_token()}"
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {database}"))
    url = sa.make_url(MYSQL_URL).set(database=database).render_as_string(hide_password=False)
    try:
        _sync_schema(url)
        yield url
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE {database}"))
        engine.dispose()


@pytest.fixture(scope="session")
def redis_client():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"redis not reachable ({exc})")
    yield client
    client.close()


def _delete_all_services(url):
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM services"))
    engine.dispose()


class Registry:
    """One backend's configuration for a test: a config file plus API factory."""

    def __init__(self, backend, config_path, options):
        self.backend = backend
        self.config_path = config_path
        self.options = options

    def set_options(self, section, **values):
        """Change options in the config file; later conf() and commands see them."""
        self.options.setdefault(section, {}).update(values)
        write_config(self.config_path, self.options)

    def conf(self):
        return load_config([self.config_path], [])

    def api(self):
        return servicegroup.API(self.conf())

    def manage_command(self, *args):
        manage = [sys.executable, "-m", "svcframe.cmd.manage"]
        return [*manage, "--config-file", self.config_path, *args]


def write_config(path, sections):
    lines = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{name} = {value}" for name, value in options.items())
    with open(path, "w") as stream:
        stream.write("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture(params=BACKENDS)
def registry(request, tmp_path):
    """A Registry for each backend, empty at the start of the test."""
    backend = request.param
    sections = {
        "DEFAULT": {
            "state_path": tmp_path / "state",
            "report_interval": REPORT_INTERVAL,
            "service_down_time": SERVICE_DOWN_TIME,
            "initial_report_delay": 0,
        },
        "database": {"connect_timeout": 3},
    }
    cleanup = None
    if backend == "postgresql":
        url = request.getfixturevalue("postgresql_url")
        sections["database"]["connection"] = url
        _delete_all_services(url)
        cleanup = lambda: _delete_all_services(url)  # noqa: E731
    elif backend == "mariadb":
        url = request.getfixturevalue("mariadb_url")
        sections["database"]["connection"] = url
        _delete_all_services(url)
        cleanup = lambda: _delete_all_services(url)  # noqa: E731
    elif backend == "redis":
        client = request.getfixturevalue("redis_client")
        prefix = f"svcframe-test:{_session_token()}"
        sections["DEFAULT"]["servicegroup_driver"] = "redis"
        sections["servicegroup_redis"] = {"url": REDIS_URL, "key_prefix": prefix}

        def cleanup():
            keys = list(client.scan_iter(match=f"{prefix}:*"))
            if keys:
                client.delete(*keys)

    path = write_config(tmp_path / "svc.conf", sections)
    yield Registry(backend, path, sections)
    if cleanup is not None:
        cleanup()


@pytest.fixture(params=("sqlite", "postgresql", "mariadb"))
def empty_database_url(request, tmp_path):
    """A URL on an empty database of each SQL backend, dropped at the end."""
    backend = request.param
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    name = f"sg_empty_{_session_token()}"
    if backend == "postgresql":
        engine = _server_engine(POSTGRESQL_URL)
        create, drop = f"CREATE SCHEMA {name}", f"DROP SCHEMA {name} CASCADE"
        url = sa.make_url(POSTGRESQL_URL).update_query_dict({"options": f"-csearch_path={name}"})
    else:
        engine = _server_engine(MYSQL_URL)
        create, drop = f"CREATE DATABASE {name}", f"DROP DATABASE {name}"
        url = sa.make_url(MYSQL_URL).set(database=name)
    with engine.begin() as connection:
        connection.execute(sa.text(create))
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(drop))
        engine.dispose()
