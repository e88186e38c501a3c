"""Conductor's server side: it owns the tasks table.

Its API versions are listed in doc/source/components.rst.  It emits a
notification for every change of a task, ``task.create``, ``task.update``
and ``task.end`` (done, failed or stale), from publisher
``conductor.<host>``, through ``[oslo_messaging_notifications]`` (nothing is
sent while its ``driver`` is unset, as with oslo.messaging);
``svc-manage notifications listen`` prints them.
"""

import logging
import os

from svcframe import log, messaging
from svcframe.conductor import tasks
from svcframe.conf import conductor as conductor_conf
from svcframe.conf import database as database_conf
from svcframe.manager import Manager, periodic_task

__all__ = ["ConductorManager"]

LOG = logging.getLogger(__name__)


class ConductorManager(Manager):
    """Creates, reads and updates tasks; marks the ones whose agent went quiet as stale."""

    target = messaging.Target(version="1.1")
    #: The release name of this API version in the client's VERSION_ALIASES.
    release = "beta"
    service_name = "conductor"

    def __init__(self, host=None, conf=None):
        super().__init__(host=host, conf=conf)
        conductor_conf.register_opts(self.conf)
        database_conf.register_opts(self.conf)
        self.store = None
        self.notifier = None
        self._notification_transport = None

    def init_host(self, service_ref=None):
        # In the worker, after the fork: database connections are per process.
        self.store = tasks.TaskStore(self.conf)
        self._notification_transport = messaging.get_notification_transport(self.conf)
        self.notifier = messaging.Notifier(
            self._notification_transport, publisher_id=f"{self.service_name}.{self.host}"
        )

    def cleanup_host(self):
        if self.store is not None:
            self.store.close()
        if self._notification_transport is not None:
            self._notification_transport.cleanup()

    # -- RPC API ---------------------------------------------------------------

    def create_task(self, context, kind, params=None):
        """A new pending task of ``kind``; returns it (with its id)."""
        task = self.store.create(kind, params)
        LOG.info("Created task %s (%s)", task["id"], kind)
        self.notifier.info(context, "task.create", task)
        return task

    @messaging.expected_exceptions(tasks.TaskNotFound)
    def get_task(self, context, task_id):
        return self.store.get(task_id)

    def list_tasks(self, context, status=None, limit=100):
        return self.store.list(status=status, limit=limit)

    @messaging.expected_exceptions(tasks.TaskNotFound, ValueError)
    def update_task(self, context, task_id, **changes):
        """Record a task's progress (a cast from the agent that runs it)."""
        if not self.store.update(task_id, **changes):
            LOG.debug("Ignored an out-of-order update of task %s: %s", task_id, changes)
            return
        if changes.get("status") in tasks.FINISHED:
            self.notifier.info(context, "task.end", self.store.get(task_id))
        else:
            self.notifier.info(context, "task.update", dict(changes, id=task_id))

    def describe(self, context):
        """Which process answered, and the configuration it runs with (API 1.1)."""
        return {
            "service": self.service_name,
            "host": self.host,
            "pid": os.getpid(),
            "worker": log.get_worker_tag(),
            "api_version": self.target.version,
            "stale_task_after": self.conf.conductor.stale_task_after,
        }

    # -- periodic tasks ----------------------------------------------------------

    @periodic_task.periodic_task(spacing=conductor_conf.STALE_CHECK_SPACING, run_immediately=False)
    def mark_stale_tasks(self, context):
        """Tasks whose agent has not reported for stale_task_after seconds become stale."""
        stale = self.store.mark_stale(self.conf.conductor.stale_task_after)
        for task_id in stale:
            LOG.warning(
                "Task %s is stale: no progress for %s s",
                task_id,
                self.conf.conductor.stale_task_after,
            )
            self.notifier.warn(context, "task.end", self.store.get(task_id))
