"""The db driver on its embedded default: an SQLite file under state_path."""

import datetime
import multiprocessing

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from svcframe import servicegroup
from svcframe.conf import database as database_conf
from svcframe.conf import servicegroup as servicegroup_conf
from svcframe.servicegroup import _models as models
from svcframe.servicegroup import _schema as schema
from svcframe.servicegroup._record import ServiceRecord, utcnow
from svcframe.servicegroup.drivers.db import DbDriver


@pytest.fixture
def api(tmp_path):
    conf = cfg.ConfigOpts()
    servicegroup_conf.register_opts(conf)
    database_conf.register_opts(conf)
    conf([], default_config_files=[], default_config_dirs=[])
    conf.set_override("state_path", str(tmp_path / "new" / "state"))
    conf.set_override("service_down_time", 60)
    api = servicegroup.API(conf)
    assert tmp_path.as_posix() in api.driver.location
    yield api
    api.close()


def test_driver_comes_from_the_entry_point(api):
    assert isinstance(api.driver, DbDriver)


def test_schema_and_directory_are_created_on_first_use(api, tmp_path):
    assert api.get_all() == []
    path = tmp_path / "new" / "state" / "services.sqlite"
    assert path.exists()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        assert schema.current_version(connection) == schema.LATEST_VERSION
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_migrations_build_the_tables_models_describe(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    assert schema.upgrade(engine) == (0, schema.LATEST_VERSION)
    assert schema.upgrade(engine) == (schema.LATEST_VERSION, schema.LATEST_VERSION)
    inspector = sa.inspect(engine)
    for table in (models.services, models.schema_version):
        migrated = {c["name"]: c["nullable"] for c in inspector.get_columns(table.name)}
        assert migrated == {c.name: c.nullable for c in table.columns}
    unique = inspector.get_unique_constraints("services")
    assert [sorted(u["column_names"]) for u in unique] == [["binary", "host"]]
    engine.dispose()


def test_times_are_aware_utc(api):
    api.driver.report("node1", "svc-api", version=2)
    record = api.get("node1", "svc-api")
    assert record.last_seen_up.tzinfo is datetime.UTC
    assert abs((utcnow() - record.last_seen_up).total_seconds()) < 5
    assert record.created_at == record.updated_at == record.last_seen_up


@pytest.mark.parametrize(
    "age, forced_down, up",
    [
        (0, False, True),
        (59, False, True),
        (61, False, False),
        (-61, False, False),
        (0, True, False),
    ],
)
def test_is_up_follows_nova(api, age, forced_down, up):
    seen = utcnow() - datetime.timedelta(seconds=age)
    record = ServiceRecord("h", "b", last_seen_up=seen, forced_down=forced_down)
    assert api.service_is_up(record) is up


def test_is_up_falls_back_to_created_at(api):
    record = ServiceRecord("h", "b", created_at=utcnow() - datetime.timedelta(seconds=5))
    assert api.service_is_up(record)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"host": "", "binary": "b"}, ValueError),
        ({"host": "a@b", "binary": "b"}, ValueError),
        ({"host": "h", "binary": "x" * 256}, ValueError),
        ({"host": "h", "binary": "b", "version": "1.0"}, TypeError),
    ],
)
def test_join_rejects_bad_arguments(api, kwargs, error):
    with pytest.raises(error):
        api.join(**kwargs)


def _report_in_child(api):
    api.driver.report("child", "svc-api")


def test_forked_child_reports_on_its_own_connections(api):
    api.driver.report("parent", "svc-api")
    child = multiprocessing.get_context("fork").Process(target=_report_in_child, args=(api,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    api.driver.report("parent", "svc-api")
    assert [(r.host, r.report_count) for r in api.get_all()] == [("child", 1), ("parent", 2)]
