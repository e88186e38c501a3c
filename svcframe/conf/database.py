"""[database] options for the db servicegroup driver.

``connection`` has oslo.db's name and meaning, so a nova.conf [database]
section points svcframe at the same server.  Unset means an SQLite file
under ``state_path``, which needs no server and is created on first use.
"""

from oslo_config import cfg

from svcframe.conf import paths
from svcframe.conf._groups import register_group_opts

__all__ = ["list_opts", "register_opts", "DEFAULT_SQLITE_NAME"]

DEFAULT_SQLITE_NAME = "services.sqlite"

database_group = cfg.OptGroup(
    "database",
    title="Service registry database",
    help="The database that holds the services table of the db servicegroup driver.",
)

database_opts = [
    cfg.StrOpt(
        "connection",
        secret=True,
        help="SQLAlchemy URL of the service registry database, e.g. "
        "postgresql+psycopg2://user:pass@host/db or mysql+pymysql://user:pass@host/db. "
        "Unset means the SQLite file $state_path/%s, created on first use." % DEFAULT_SQLITE_NAME,
    ),
    cfg.FloatOpt(
        "connect_timeout",
        default=10.0,
        min=0.1,
        help="Seconds to wait for the database to accept a connection, and for "
        "SQLite, for another writer to release its lock.",
    ),
]


def register_opts(conf):
    # The default connection is a file under state_path.
    paths.register_opts(conf)
    register_group_opts(conf, database_group, database_opts)


def list_opts():
    return [(database_group, database_opts)]
