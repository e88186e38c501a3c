"""Manager: the base class of a component's server side.

A component's ``manager.py`` subclasses Manager; its public methods are
the RPC API of the component (version ``target.version``), its
``@periodic_task`` methods run on a timer in every worker, and the hooks
below let it take part in the service's life cycle.  The hooks are not
callable over RPC (see ``ManagerAccessPolicy``).
"""

import functools
import time

from oslo_config import cfg
from oslo_service import periodic_task

from svcframe import metrics
from svcframe.messaging import DefaultRPCAccessPolicy, Target

__all__ = ["Manager", "ManagerAccessPolicy", "periodic_task"]


class Manager(periodic_task.PeriodicTasks):
    """Server side of a component: RPC endpoint, periodic tasks and life-cycle hooks."""

    #: The RPC API version this manager implements (major.minor).
    target = Target(version="1.0")
    #: The name the component answers to in pings and logs.
    service_name = "undefined"
    #: An integer bumped when the service's behaviour changes; stored with its heartbeats.
    service_version = None

    def __init__(self, host=None, service_name=None, conf=None):
        conf = conf if conf is not None else cfg.CONF
        super().__init__(conf)
        self.host = host
        if service_name is not None:
            self.service_name = service_name
        #: More RPC endpoints served next to the manager (each with its own target).
        self.additional_endpoints = []

    def init_host(self, service_ref=None):
        """Prepare the host before the service registers and starts consuming."""

    def pre_start_hook(self, service_ref=None):
        """Runs after the service is registered, before the RPC server starts."""

    def post_start_hook(self):
        """Runs once the RPC server consumes."""

    def cleanup_host(self):
        """Runs after the RPC server stopped and in-flight requests finished."""

    def reset(self):
        """Apply a reloaded configuration (SIGHUP); mutable options already changed."""

    def periodic_tasks(self, context, raise_on_error=False):
        """Run the due periodic tasks; returns how long until the next one is due."""
        if metrics.enabled() and "_periodic_tasks" not in vars(self):
            self._periodic_tasks = [
                (name, _measured(name, task)) for name, task in self._periodic_tasks
            ]
        return self.run_periodic_tasks(context, raise_on_error=raise_on_error)

    def set_periodic_spacing(self, task_name, seconds):
        """Run periodic task ``task_name`` every ``seconds`` in this manager (e.g. from an option).

        ``@periodic_task(spacing=...)`` fixes the spacing when the class is
        defined, before any configuration is read; this sets it per instance.
        """
        if task_name not in self._periodic_spacing:
            raise ValueError(f"{type(self).__name__} has no periodic task {task_name!r}")
        if "_periodic_spacing" not in vars(self):
            self._periodic_spacing = dict(type(self)._periodic_spacing)
        self._periodic_spacing[task_name] = seconds

    def periodic_spacing(self, task_name):
        """Seconds between two runs of periodic task ``task_name``."""
        return self._periodic_spacing[task_name]

    def restart_periodic_clock(self):
        """Count periodic spacing from now (service start), not from class definition."""
        now = periodic_task.now()
        for name, task in self._periodic_tasks:
            if not task._periodic_immediate:
                self._periodic_last_run[name] = now


def _measured(name, task):
    """``task`` counted and timed in the metrics; it keeps its @periodic_task marks."""

    @functools.wraps(task)
    def run(manager, context):
        started, outcome = time.monotonic(), "error"
        try:
            result = task(manager, context)
            outcome = "ok"
            return result
        finally:
            metrics.record_periodic_task(name, outcome, time.monotonic() - started)

    return run


# Everything Manager itself defines is plumbing, not API.
_MANAGER_INTERNALS = frozenset(
    name for klass in Manager.__mro__ for name in vars(klass) if not name.startswith("__")
)


class ManagerAccessPolicy(DefaultRPCAccessPolicy):
    """The default policy, plus: a Manager's hooks and periodic-task plumbing are not RPC."""

    def is_allowed(self, endpoint, method):
        if isinstance(endpoint, Manager) and method in _MANAGER_INTERNALS:
            return False
        return super().is_allowed(endpoint, method)
