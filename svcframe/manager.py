"""Manager: the base class of a component's server side.

A component's ``manager.py`` subclasses Manager; its public methods are
the RPC API of the component (version ``target.version``), its
``@periodic_task`` methods run on a timer in every worker, and the hooks
below let it take part in the service's life cycle.  Only the functions a
subclass defines are callable over RPC: everything Manager itself defines
(hooks included, even when overridden), attributes such as ``conf`` and
``host`` and ``@periodic_task`` methods are not (see
``svcframe.messaging.dispatcher.rpc_method``).
"""

import functools
import importlib.metadata
import time

from oslo_config import cfg
from oslo_service import periodic_task

from svcframe import metrics
from svcframe.messaging import DefaultRPCAccessPolicy, Target

__all__ = ["Manager", "ManagerAccessPolicy", "periodic_task", "release_of"]


class Manager(periodic_task.PeriodicTasks):
    """Server side of a component: RPC endpoint, periodic tasks and life-cycle hooks."""

    #: The RPC API version this manager implements (major.minor).
    target = Target(version="1.0")
    #: The name the component answers to in pings and logs.
    service_name = "undefined"
    #: The topic its service consumes when Service.create() is given none;
    #: None: the binary's name without ``svc-``.  A component renamed after
    #: release keeps its old topic here, the address peers already use.
    rpc_topic = None
    #: An integer bumped when the service's behaviour changes; stored with its heartbeats.
    service_version = None
    #: The component's release as operators name it, e.g. a key of the client's
    #: VERSION_ALIASES; shown by ``svc-manage service list`` and ``rpc ping``.
    #: None: the version of the Python distribution the manager's module comes from.
    release = None

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
        """Apply a reloaded configuration; mutable options already changed.

        Runs on SIGHUP, and before ``init_host()`` in a worker started after
        a reload: read again here every option cached in ``__init__``.
        """

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


def release_of(manager):
    """``manager.release``, else the version of the distribution that provides it, else None."""
    if manager.release:
        return str(manager.release)
    package = type(manager).__module__.partition(".")[0]
    for distribution in importlib.metadata.packages_distributions().get(package, ()):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


# Everything Manager itself defines is plumbing, not API; the dispatcher
# refuses these names on every Manager, whatever the access policy.
_MANAGER_INTERNALS = frozenset(
    name for klass in Manager.__mro__ for name in vars(klass) if not name.startswith("__")
)
Manager._rpc_reserved_names = _MANAGER_INTERNALS


class ManagerAccessPolicy(DefaultRPCAccessPolicy):
    """The default policy; a Manager's hooks and periodic-task plumbing are not RPC.

    The default policy refuses them already (``Manager._rpc_reserved_names``);
    this class stays for the code that names it.
    """

    def is_allowed(self, endpoint, method):
        if isinstance(endpoint, Manager) and method in _MANAGER_INTERNALS:
            return False
        return super().is_allowed(endpoint, method)
