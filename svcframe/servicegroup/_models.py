"""The services table as the current code reads and writes it."""

import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

__all__ = ["UtcDateTime", "metadata", "schema_version", "services"]


class UtcDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes in Python, naive UTC in the database.

    A naive column behaves the same on SQLite, PostgreSQL and MariaDB; the
    conversion lives here so no caller can store local time by mistake.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name in ("mysql", "mariadb"):
            # MariaDB's DATETIME keeps whole seconds unless asked for more.
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: registry times must be timezone-aware")
        return value.astimezone(datetime.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=datetime.UTC)


metadata = sa.MetaData()

services = sa.Table(
    "services",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("binary", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(255)),
    sa.Column("report_count", sa.Integer, nullable=False, default=0),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("disabled_reason", sa.String(255)),
    sa.Column("forced_down", sa.Boolean, nullable=False, default=False),
    sa.Column("last_seen_up", UtcDateTime),
    sa.Column("version", sa.Integer),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime),
    sa.Column("release", sa.String(64)),
    sa.Column("rpc_api_version", sa.String(16)),
    sa.UniqueConstraint("host", "binary", name="uniq_services0host0binary"),
    mysql_engine="InnoDB",
    mysql_charset="utf8mb4",
)

schema_version = sa.Table(
    "svcframe_schema_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    mysql_engine="InnoDB",
    mysql_charset="utf8mb4",
)
