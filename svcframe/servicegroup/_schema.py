"""Creating and upgrading the registry schema with numbered migrations.

A row in ``svcframe_schema_version`` holds the number of the last migration
applied.  Each migration spells out its own DDL instead of reusing _models.py,
so that upgrading an old database replays exactly what that version created;
a unit test checks that the replayed schema matches _models.py.
"""

import contextlib
import dataclasses
import logging
import zlib

import sqlalchemy as sa

from svcframe.servicegroup import _models as models
from svcframe.servicegroup._record import utcnow

__all__ = ["LATEST_VERSION", "MIGRATIONS", "Migration", "current_version", "upgrade"]

# The logger keeps the name log lines carried before the module became private.
LOG = logging.getLogger("svcframe.servicegroup.schema")

_VERSION_ROW_ID = 1
# Serialises concurrent upgrades on servers; SQLite writers are already serial.
_LOCK_NAME = "svcframe_schema_version"
_LOCK_KEY = zlib.crc32(_LOCK_NAME.encode())


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: object  # callable(connection)


def _create_services_v1(connection):
    v1 = sa.MetaData()
    sa.Table(
        "services",
        v1,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("binary", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255)),
        sa.Column("report_count", sa.Integer, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("disabled_reason", sa.String(255)),
        sa.Column("forced_down", sa.Boolean, nullable=False),
        sa.Column("last_seen_up", models.UtcDateTime),
        sa.Column("version", sa.Integer),
        sa.Column("created_at", models.UtcDateTime, nullable=False),
        sa.Column("updated_at", models.UtcDateTime),
        sa.UniqueConstraint("host", "binary", name="uniq_services0host0binary"),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )
    v1.create_all(connection)


def _add_versions_v2(connection):
    _add_column(connection, "services", sa.Column("release", sa.String(64)))
    _add_column(connection, "services", sa.Column("rpc_api_version", sa.String(16)))


def _add_column(connection, table, column):
    """ALTER TABLE ... ADD COLUMN for a nullable column, names quoted (release is reserved)."""
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    column_type = column.type.compile(dialect=dialect)
    connection.execute(
        sa.text(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column.name)} {column_type}")
    )


MIGRATIONS = (
    Migration(1, "create the services table", _create_services_v1),
    Migration(2, "record each service's release and RPC API version", _add_versions_v2),
)
LATEST_VERSION = MIGRATIONS[-1].version


def current_version(connection):
    """The last migration applied; 0 for a database svcframe never touched."""
    if not sa.inspect(connection).has_table(models.schema_version.name):
        return 0
    version = connection.execute(
        sa.select(models.schema_version.c.version).where(
            models.schema_version.c.id == _VERSION_ROW_ID
        )
    ).scalar()
    return version or 0


def upgrade(engine):
    """Apply the migrations the database lacks; return (version before, version after)."""
    with engine.begin() as connection, _upgrade_lock(connection):
        before = current_version(connection)
        if before == 0:
            models.schema_version.create(connection, checkfirst=True)
        for migration in MIGRATIONS:
            if migration.version > before:
                LOG.info("Schema migration %d: %s", migration.version, migration.description)
                migration.apply(connection)
        if before < LATEST_VERSION:
            _record_version(connection, before, LATEST_VERSION)
        return before, max(before, LATEST_VERSION)


@contextlib.contextmanager
def _upgrade_lock(connection):
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        yield
    elif dialect in ("mysql", "mariadb"):
        # MariaDB commits DDL implicitly, so a transaction cannot hold this
        # lock: it belongs to the session and must be released by hand.
        connection.execute(sa.text("SELECT GET_LOCK(:name, 60)"), {"name": _LOCK_NAME})
        try:
            yield
        finally:
            connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": _LOCK_NAME})
    else:
        yield


def _record_version(connection, before, after):
    table = models.schema_version
    values = {"version": after, "updated_at": utcnow()}
    if before == 0:
        connection.execute(table.insert().values(id=_VERSION_ROW_ID, **values))
    else:
        connection.execute(table.update().where(table.c.id == _VERSION_ROW_ID).values(**values))
