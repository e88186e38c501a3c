"""Service: a component's manager, served over RPC, with heartbeats and periodic tasks.

``Service.create(binary='conductor')`` builds it with nova's defaults
(topic from the binary, manager from the component registry, intervals
from the configuration); ``serve(service, workers)`` hands it to a
launcher and ``wait()`` blocks until the launcher is done.  The object is
built once, in the launching process; ``start()`` runs in each worker,
so nothing here connects to anything before ``start()``.
"""

import logging
import os
import sys
import threading

from oslo_config import cfg
from oslo_utils import importutils

from svcframe import baserpc, components, context, messaging, servicegroup
from svcframe.conf import messaging as messaging_conf
from svcframe.conf import rabbit as rabbit_conf
from svcframe.conf import service as service_conf
from svcframe.conf import servicegroup as servicegroup_conf
from svcframe.conf import upgrade_levels
from svcframe.launcher import ServiceBase, launch
from svcframe.manager import ManagerAccessPolicy, release_of
from svcframe.periodic import PeriodicRunner

__all__ = ["Service", "serve", "wait"]

LOG = logging.getLogger(__name__)


def register_opts(conf):
    """Register every option a Service reads on ``conf``.

    That includes ``[upgrade_levels]`` for every installed component: the
    clients that read them are built in the workers, but the master must
    know them to notice, on SIGHUP, that a version cap changed.
    """
    messaging_conf.register_opts(conf)
    rabbit_conf.register_opts(conf)
    service_conf.register_opts(conf)
    servicegroup_conf.register_opts(conf)
    for name in ("baseapi", *components.names()):
        upgrade_levels.register_component(conf, name)


class Service(ServiceBase):
    """Serves a Manager on ``Target(topic, server=host)`` in each worker."""

    def __init__(
        self,
        host,
        binary,
        topic,
        manager,
        report_interval=None,
        periodic_enable=None,
        periodic_fuzzy_delay=None,
        periodic_interval_max=None,
        conf=None,
    ):
        self.conf = conf if conf is not None else cfg.CONF
        register_opts(self.conf)
        self.host = host
        self.binary = binary
        self.topic = topic
        manager_class = importutils.import_class(manager) if isinstance(manager, str) else manager
        self.manager = manager_class(host=host, conf=self.conf)
        # Looked up once, before the workers fork.
        self._release = release_of(self.manager)
        self.report_interval = report_interval
        self.periodic_enable = periodic_enable
        self.periodic_fuzzy_delay = periodic_fuzzy_delay
        self.periodic_interval_max = periodic_interval_max
        self.transport = None
        self.rpcserver = None
        self._servicegroup = None
        self._membership = None
        self._periodic = None
        self._stopped = threading.Event()

    @classmethod
    def create(
        cls,
        host=None,
        binary=None,
        topic=None,
        manager=None,
        report_interval=None,
        periodic_enable=None,
        periodic_fuzzy_delay=None,
        periodic_interval_max=None,
        conf=None,
    ):
        """A Service with nova's defaults for everything not given.

        ``binary`` defaults to the program name; ``manager`` to the class the
        component registry has for the binary (a class or a dotted path may be
        given); ``topic`` to the manager's ``rpc_topic``, else the binary
        without its ``svc-`` prefix; ``host`` and the intervals to the
        configuration.
        """
        conf = conf if conf is not None else cfg.CONF
        register_opts(conf)
        if binary is None:
            binary = os.path.basename(sys.argv[0])
        if manager is None:
            manager = components.load_manager_class(binary)
        elif isinstance(manager, str):
            manager = importutils.import_class(manager)
        if topic is None:
            topic = getattr(manager, "rpc_topic", None) or components.component_name(binary)
        return cls(
            host=host or conf.host,
            binary=binary,
            topic=topic,
            manager=manager,
            report_interval=_given_or(report_interval, conf.report_interval),
            periodic_enable=_given_or(periodic_enable, conf.periodic_enable),
            periodic_fuzzy_delay=_given_or(periodic_fuzzy_delay, conf.periodic_fuzzy_delay),
            periodic_interval_max=_given_or(periodic_interval_max, conf.periodic_interval_max),
            conf=conf,
        )

    def __getattr__(self, name):
        # As nova's Service: what the service does not have, its manager may.
        manager = self.__dict__.get("manager")
        if manager is None:
            raise AttributeError(name)
        return getattr(manager, name)

    def __repr__(self):
        return f"<Service {self.binary} topic={self.topic} host={self.host}>"

    # -- ServiceBase ---------------------------------------------------------

    def start(self):
        """Run the hooks in nova's order and start consuming; raises if the service cannot boot."""
        self._stopped.clear()
        self._servicegroup = servicegroup.API(self.conf)
        service_ref = self._lookup_service_ref()
        self.manager.init_host(service_ref)
        self.manager.pre_start_hook(service_ref)

        self.transport = messaging.get_rpc_transport(self.conf)
        endpoints = [
            self.manager,
            baserpc.BaseRPCAPI(
                self.manager.service_name,
                self.host,
                release=self._release,
                api_version=self.manager.target.version,
            ),
            *self.manager.additional_endpoints,
        ]
        self.rpcserver = messaging.get_rpc_server(
            self.transport,
            messaging.Target(topic=self.topic, server=self.host),
            endpoints,
            executor=_executor(),
            serializer=messaging.RequestContextSerializer(),
            access_policy=ManagerAccessPolicy,
        )
        self.rpcserver.start()
        self.manager.post_start_hook()

        self._membership = self._servicegroup.join(
            self.host,
            self.binary,
            topic=self.topic,
            version=self.manager.service_version,
            release=self._release,
            rpc_api_version=self.manager.target.version,
            report_interval=self.report_interval,
        )
        if self.periodic_enable:
            self.manager.restart_periodic_clock()
            self._periodic = PeriodicRunner(
                self._run_periodic_tasks,
                self.periodic_fuzzy_delay,
                self.periodic_interval_max,
            ).start()
        LOG.info(
            "%s serving topic %r as server %r (API %s, release %s, transport %s)",
            self.binary,
            self.topic,
            self.host,
            self.manager.target.version,
            self._release,
            self.transport.url,
        )

    def stop(self):
        """Stop consuming and stop the periodic tasks; requests in flight go on."""
        if self.rpcserver is not None:
            self.rpcserver.stop()
        if self._periodic is not None:
            self._periodic.stop()
        self._stopped.set()

    def wait(self):
        """Wait for the requests in flight to finish and their replies to go out, then clean up."""
        self._stopped.wait()
        if self.rpcserver is not None:
            self.rpcserver.wait()
        try:
            self.manager.cleanup_host()
        finally:
            if self._membership is not None:
                self._membership.stop()
            if self._servicegroup is not None:
                self._servicegroup.close()
            if self.transport is not None:
                self.transport.cleanup()

    def reset(self):
        """Apply a reloaded configuration through the manager's ``reset()``."""
        self.manager.reset()

    # -- internals -----------------------------------------------------------

    def _lookup_service_ref(self):
        try:
            return self._servicegroup.get(self.host, self.binary)
        except servicegroup.ServiceNotFound:
            return None  # the first start on this host
        except Exception as exc:  # noqa: BLE001 - the registry being down must not stop a boot
            LOG.warning(
                "Could not read the service record of %s on %s: %s", self.binary, self.host, exc
            )
            return None

    def _run_periodic_tasks(self):
        return self.manager.periodic_tasks(context.get_admin_context())


def _given_or(value, default):
    return default if value is None else value


def _executor():
    """'eventlet' in a monkey-patched process, else 'threading' (as nova chooses)."""
    eventlet = sys.modules.get("eventlet")
    if eventlet is not None and eventlet.patcher.is_monkey_patched("thread"):
        return "eventlet"
    return "threading"


_launcher = None


def serve(server, workers=None):
    """Launch ``server`` with ``workers`` processes (None: [launcher] workers or CPU count)."""
    global _launcher
    if _launcher is not None:
        raise RuntimeError("serve() can only be called once")
    _launcher = launch(server.conf, server, workers=workers)
    return _launcher


def wait():
    """Block until the launcher stops; returns its exit status."""
    if _launcher is None:
        raise RuntimeError("serve() must be called before wait()")
    return _launcher.wait()
