"""The conductor's tasks table and the queries on it.

Tasks live in ``[database] connection``, next to the service registry
(the SQLite file under state_path by default).  The table is created on
first use; two workers creating it at once is harmless.
"""

import datetime
import functools
import json
import logging
import threading
import uuid

import sqlalchemy as sa

from svcframe.db import ProcessLocalEngine, connection_url
from svcframe.masking import mask_password

__all__ = ["STATUSES", "TaskDatabaseError", "TaskNotFound", "TaskStore"]

LOG = logging.getLogger(__name__)

#: A task's life: pending (created), scheduled (sent to an agent), running,
#: then done or failed; stale when its agent went quiet for too long.
STATUSES = ("pending", "scheduled", "running", "done", "failed", "stale")
ACTIVE = ("scheduled", "running")
FINISHED = ("done", "failed")

# The statuses a task may move to each status from.  Updates arrive as casts
# that a threaded server runs concurrently, so they can be applied out of
# order: a late "running" must not undo "done", nor "scheduled" undo "running".
_PREDECESSORS = {
    "scheduled": ("pending",),
    "running": ("pending", "scheduled", "stale"),
    "done": ("pending", "scheduled", "running", "stale"),
    "failed": ("pending", "scheduled", "running", "stale"),
    "stale": ACTIVE,
}

metadata = sa.MetaData()

tasks = sa.Table(
    "svcframe_tasks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("params", sa.Text, nullable=False, default="{}"),
    sa.Column("status", sa.String(16), nullable=False, default="pending"),
    sa.Column("progress", sa.Integer, nullable=False, default=0),
    # The agent's host. Column and task key keep the name from before agents
    # were renamed: existing tables and peers of every release use it.
    sa.Column("worker_host", sa.String(255)),
    sa.Column("result", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("svcframe_tasks_status_updated", "status", "updated_at"),
)

_UPDATABLE = frozenset(("status", "progress", "worker_host", "result", "error"))


class TaskNotFound(LookupError):
    """No task has that id."""

    def __init__(self, message=None, task_id=None):
        self.task_id = task_id
        # Sent with the failure, so a caller that allows this module gets it back whole.
        self.kwargs = {"task_id": task_id}
        super().__init__(message or f"no task {task_id!r}")


class TaskDatabaseError(RuntimeError):
    """The tasks database failed; the details are in the conductor's log, not here.

    Database errors name the server, the user and sometimes the URL; this
    message goes back to RPC callers, so it says what failed and nothing more.
    """


def _database_errors(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sa.exc.SQLAlchemyError as exc:
            LOG.error("The tasks database failed (%s): %s", method.__name__, mask_password(exc))
            # 'from None': a traceback sent to the caller must not chain the raw error.
            raise TaskDatabaseError(
                f"the tasks database is unavailable ({type(exc).__name__} in "
                f"{method.__name__}); see the conductor's log"
            ) from None

    return wrapper


def _now():
    # Naive UTC in the database: every backend stores it the same way.
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def _row_to_dict(row):
    return {
        "id": row.id,
        "kind": row.kind,
        "params": json.loads(row.params or "{}"),
        "status": row.status,
        "progress": row.progress,
        "worker_host": row.worker_host,
        "result": json.loads(row.result) if row.result is not None else None,
        "error": row.error,
        "created_at": row.created_at.isoformat() + "Z",
        "updated_at": row.updated_at.isoformat() + "Z",
    }


class TaskStore:
    """Create, read and update tasks; one per conductor process."""

    def __init__(self, conf):
        self._engine = ProcessLocalEngine(connection_url(conf), conf.database.connect_timeout)
        self._ready = False
        self._lock = threading.Lock()

    def _engine_ready(self):
        engine = self._engine.get()
        if not self._ready:
            with self._lock:
                if not self._ready:
                    try:
                        metadata.create_all(engine, checkfirst=True)
                    except sa.exc.DatabaseError:
                        # Another worker created it between our check and our CREATE.
                        if not sa.inspect(engine).has_table(tasks.name):
                            raise
                    self._ready = True
        return engine

    @_database_errors
    def create(self, kind, params):
        now = _now()
        values = {
            "id": str(uuid.uuid4()),
            "kind": kind,
            "params": json.dumps(params or {}),
            "status": "pending",
            "progress": 0,
            "created_at": now,
            "updated_at": now,
        }
        with self._engine_ready().begin() as connection:
            connection.execute(tasks.insert().values(**values))
        return self.get(values["id"])

    @_database_errors
    def get(self, task_id):
        with self._engine_ready().connect() as connection:
            row = connection.execute(tasks.select().where(tasks.c.id == task_id)).first()
        if row is None:
            raise TaskNotFound(task_id=task_id)
        return _row_to_dict(row)

    @_database_errors
    def list(self, status=None, limit=100):
        query = tasks.select().order_by(tasks.c.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(tasks.c.status == status)
        with self._engine_ready().connect() as connection:
            return [_row_to_dict(row) for row in connection.execute(query)]

    @_database_errors
    def update(self, task_id, **changes):
        """Apply ``changes``; False when the task's status does not allow them (a late update).

        A status change applies only from the statuses that may precede it;
        other changes (progress) only while the task is not finished.
        """
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {', '.join(sorted(unknown))} of a task")
        status = changes.get("status")
        if status is not None and status not in _PREDECESSORS:
            raise ValueError(f"a task cannot be set to status {status!r}")
        if "result" in changes:
            changes["result"] = json.dumps(changes["result"])
        changes["updated_at"] = _now()
        if status is not None:
            allowed = tasks.c.status.in_(_PREDECESSORS[status])
        else:
            allowed = tasks.c.status.not_in(FINISHED)
        with self._engine_ready().begin() as connection:
            updated = connection.execute(
                tasks.update().where(tasks.c.id == task_id, allowed).values(**changes)
            ).rowcount
        if updated:
            return True
        self.get(task_id)  # raises TaskNotFound when there is no such task
        return False

    @_database_errors
    def mark_stale(self, older_than_seconds):
        """Mark active tasks not updated for ``older_than_seconds`` as stale; return their ids."""
        cutoff = _now() - datetime.timedelta(seconds=older_than_seconds)
        with self._engine_ready().begin() as connection:
            ids = [
                row.id
                for row in connection.execute(
                    sa.select(tasks.c.id).where(
                        tasks.c.status.in_(ACTIVE), tasks.c.updated_at < cutoff
                    )
                )
            ]
            if ids:
                connection.execute(
                    tasks.update()
                    .where(tasks.c.id.in_(ids), tasks.c.status.in_(ACTIVE))
                    .values(status="stale", updated_at=_now())
                )
        return ids

    def close(self):
        self._engine.dispose()
