"""SQLAlchemy engines for svcframe's tables: URL defaults, SQLite tuning, fork safety.

The service registry (the db servicegroup driver) and the conductor's tasks
share [database] connection; both get their engines here.
"""

import math
import os
import threading

import sqlalchemy as sa
from sqlalchemy import event

from svcframe import statedir
from svcframe.conf.database import DEFAULT_SQLITE_NAME

__all__ = ["ProcessLocalEngine", "connection_url", "create_engine"]


def connection_url(conf):
    """[database] connection, or the SQLite file under state_path (created private)."""
    if conf.database.connection:
        return conf.database.connection
    directory = statedir.ensure_private_dir(conf.state_path)
    path = os.path.join(directory, DEFAULT_SQLITE_NAME)
    # SQLite creates the -wal and -shm files with the database file's mode:
    # creating the database 0600 ourselves keeps all three private.  An
    # existing file is never opened here: closing any descriptor of a file
    # drops every POSIX lock this process holds on it, SQLite's included
    # (another process would then reset the -shm this one has mapped).
    try:
        os.close(statedir.open_private_file(path, os.O_RDWR))
    except FileExistsError:
        for suffix in ("", "-wal", "-shm"):
            statedir.make_private(path + suffix)
    return f"sqlite:///{path}"


def create_engine(url, connect_timeout):
    """An engine tuned for many short writes from many processes."""
    url = sa.make_url(url)
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(url, connect_timeout)
    connect_args = {}
    if url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, math.ceil(connect_timeout))
    elif url.get_backend_name() in ("mysql", "mariadb"):
        connect_args["connect_timeout"] = max(1, math.ceil(connect_timeout))
    # pre_ping replaces connections a restarted server closed, so the first
    # heartbeat after an outage succeeds instead of failing once more.
    return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)


def _create_sqlite_engine(url, connect_timeout):
    engine = sa.create_engine(
        url,
        connect_args={"timeout": connect_timeout, "check_same_thread": False},
    )
    busy_timeout_ms = int(connect_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers proceed while one writer commits; busy_timeout makes
        # a writer wait for the lock instead of failing at once.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # A deferred transaction that reads then writes fails with SQLITE_BUSY
        # without waiting when another writer got there first; taking the
        # write lock up front makes every writer queue on busy_timeout.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class ProcessLocalEngine:
    """One engine per process: a forked child never reuses its parent's connections."""

    def __init__(self, url, connect_timeout):
        self._url = url
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._engine = None
        self._pid = None

    def get(self):
        with self._lock:
            if self._engine is None:
                self._engine = create_engine(self._url, self._connect_timeout)
            elif self._pid != os.getpid():
                # Drop the inherited pool without closing the parent's sockets.
                self._engine.dispose(close=False)
            self._pid = os.getpid()
            return self._engine

    def dispose(self):
        with self._lock:
            if self._engine is not None and self._pid == os.getpid():
                self._engine.dispose()
            self._engine = None
