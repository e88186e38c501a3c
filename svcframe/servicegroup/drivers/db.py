"""The db servicegroup driver: nova's services table on SQLAlchemy."""

import logging
import random
import threading
import time

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from svcframe.db import ProcessLocalEngine, connection_url
from svcframe.servicegroup import _schema as schema
from svcframe.servicegroup._exceptions import (
    RegistryUnavailable,
    SchemaNotCurrent,
    ServiceGroupError,
    ServiceNotFound,
)
from svcframe.servicegroup._models import services
from svcframe.servicegroup._record import ServiceRecord, utcnow
from svcframe.servicegroup._urls import mask_url, scrub
from svcframe.servicegroup.drivers.base import ServiceGroupDriver

__all__ = ["DbDriver"]

LOG = logging.getLogger(__name__)

# Lock conflicts between concurrent heartbeats are resolved by running the
# transaction again; these many attempts make a persistent failure visible.
_MAX_ATTEMPTS = 5
_RETRY_BASE_DELAY = 0.05

# Deadlock and lock-wait errors: MariaDB error numbers, PostgreSQL SQLSTATEs.
_MYSQL_RETRYABLE = {1205, 1213}
_PG_RETRYABLE = {"40001", "40P01"}

_RECORD_COLUMNS = (
    "host",
    "binary",
    "topic",
    "report_count",
    "disabled",
    "disabled_reason",
    "forced_down",
    "last_seen_up",
    "version",
    "created_at",
    "updated_at",
    "release",
    "rpc_api_version",
)


class DbDriver(ServiceGroupDriver):
    """Service records in a SQL database ([database] connection, SQLite by default).

    A service is up when it is not forced down and its last heartbeat
    (``last_seen_up``, or ``created_at`` before the first one) is at most
    service_down_time old.  The embedded SQLite database gets its schema on
    first use; a server database needs ``svc-manage db sync``.
    """

    #: The schema version this code needs (what sync_schema upgrades to).
    LATEST_SCHEMA_VERSION = schema.LATEST_VERSION

    def __init__(self, conf, service_down_time):
        super().__init__(conf, service_down_time)
        self._url = connection_url(conf)
        self._location = mask_url(self._url)
        self._engine = ProcessLocalEngine(self._url, conf.database.connect_timeout)
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    @property
    def location(self):
        return self._location

    def report(self, host, binary, topic=None, version=None, release=None, rpc_api_version=None):
        versions = {"version": version, "release": release, "rpc_api_version": rpc_api_version}
        self._run(lambda connection: self._report(connection, host, binary, topic, versions))

    def is_up(self, record):
        if record.forced_down:
            return False
        last_heartbeat = record.last_seen_up or record.created_at
        if last_heartbeat is None:
            return False
        elapsed = abs((utcnow() - last_heartbeat).total_seconds())
        return elapsed <= self.service_down_time

    def get(self, host, binary):
        def _get(connection):
            row = connection.execute(_select_records().where(*_key(host, binary))).first()
            if row is None:
                raise ServiceNotFound(host, binary)
            return _to_record(row)

        return self._run(_get)

    def get_all(self, binary=None, host=None):
        query = _select_records().order_by(services.c.binary, services.c.host)
        if binary is not None:
            query = query.where(services.c.binary == binary)
        if host is not None:
            query = query.where(services.c.host == host)
        return self._run(lambda connection: [_to_record(r) for r in connection.execute(query)])

    def set_disabled(self, host, binary, disabled, reason=None):
        self._update(host, binary, disabled=disabled, disabled_reason=reason if disabled else None)

    def set_forced_down(self, host, binary, forced_down):
        self._update(host, binary, forced_down=forced_down)

    def delete(self, host, binary):
        def _delete(connection):
            if connection.execute(services.delete().where(*_key(host, binary))).rowcount == 0:
                raise ServiceNotFound(host, binary)

        self._run(_delete)

    def close(self):
        self._engine.dispose()

    def sync_schema(self):
        """Create or upgrade the schema; return (version before, version after)."""
        result = self._run(lambda engine: schema.upgrade(engine), with_engine=True)
        self._schema_ready = True
        return result

    def schema_version(self):
        """The schema version of the database (0 when it has none)."""
        return self._run(schema.current_version, check_schema=False)

    def _report(self, connection, host, binary, topic, versions):
        now = utcnow()
        changes = {"report_count": services.c.report_count + 1, "last_seen_up": now}
        if topic is not None:
            changes["topic"] = topic
        changes.update((name, value) for name, value in versions.items() if value is not None)
        increment = services.update().where(*_key(host, binary)).values(updated_at=now, **changes)
        if connection.execute(increment).rowcount:
            return
        first_report = {
            "host": host,
            "binary": binary,
            "topic": topic,
            **versions,
            "report_count": 1,
            "disabled": False,
            "forced_down": False,
            "last_seen_up": now,
            "created_at": now,
            "updated_at": now,
        }
        if not _insert_unless_present(connection, first_report):
            # Another process registered it between our UPDATE and INSERT.
            connection.execute(increment)

    def _update(self, host, binary, **values):
        # updated_at is the heartbeat's: an administrative change leaves it alone.
        statement = services.update().where(*_key(host, binary)).values(**values)

        def _apply(connection):
            if connection.execute(statement).rowcount == 0:
                raise ServiceNotFound(host, binary)

        self._run(_apply)

    def _run(self, work, with_engine=False, check_schema=True):
        """Run ``work`` in a transaction (or on the engine), retrying lock conflicts."""
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                engine = self._engine.get()
                if with_engine:
                    return work(engine)
                if check_schema:
                    self._ensure_schema(engine)
                with engine.begin() as connection:
                    return work(connection)
            except sa_exc.DBAPIError as exc:
                if attempt < _MAX_ATTEMPTS and _is_lock_conflict(exc):
                    time.sleep(_RETRY_BASE_DELAY * attempt * (1 + random.random()))
                    continue
                raise self._translate(exc) from exc
            except sa_exc.ArgumentError as exc:
                raise ServiceGroupError(
                    f"invalid [database] connection {self._location}: {scrub(exc, self._url)}"
                ) from exc
            except sa_exc.NoSuchModuleError as exc:
                raise ServiceGroupError(
                    f"unsupported [database] connection {self._location}: {scrub(exc, self._url)}"
                ) from exc
            except ImportError as exc:
                raise ServiceGroupError(
                    f"[database] connection {self._location} needs a database driver that is "
                    f"not installed: {exc}"
                ) from exc

    def _ensure_schema(self, engine):
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            if engine.dialect.name == "sqlite":
                before, after = schema.upgrade(engine)
                if before != after:
                    LOG.info("Created registry schema version %d in %s", after, self._location)
            else:
                with engine.connect() as connection:
                    found = schema.current_version(connection)
                if found < schema.LATEST_VERSION:
                    raise SchemaNotCurrent(self._location, found, schema.LATEST_VERSION)
            self._schema_ready = True

    def _translate(self, exc):
        reason = _first_line(scrub(exc.orig if exc.orig is not None else exc, self._url))
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) or (
            exc.connection_invalidated
        ):
            return RegistryUnavailable(self._location, reason)
        return ServiceGroupError(f"service registry {self._location} refused a query: {reason}")


def _key(host, binary):
    return services.c.host == host, services.c.binary == binary


def _select_records():
    return sa.select(*(services.c[name] for name in _RECORD_COLUMNS))


def _to_record(row):
    values = row._asdict()
    values["disabled"] = bool(values["disabled"])
    values["forced_down"] = bool(values["forced_down"])
    return ServiceRecord(**values)


def _insert_unless_present(connection, values):
    """Insert the row unless (host, binary) exists; True if this call inserted it."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(services).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(services).values(values).on_conflict_do_nothing()
    elif dialect in ("mysql", "mariadb"):
        statement = services.insert().values(values).prefix_with("IGNORE")
    else:
        try:
            with connection.begin_nested():
                connection.execute(services.insert().values(values))
        except sa_exc.IntegrityError:
            return False
        return True
    return connection.execute(statement).rowcount == 1


def _is_lock_conflict(exc):
    orig = exc.orig
    if orig is None:
        return False
    if getattr(orig, "pgcode", None) in _PG_RETRYABLE:
        return True
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_RETRYABLE:
        return True
    message = str(orig).lower()
    return "database is locked" in message or "database is busy" in message


def _first_line(text):
    return (str(text).strip().splitlines() or [""])[0].strip()
