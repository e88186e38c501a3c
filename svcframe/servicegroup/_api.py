"""The servicegroup API: join the group, ask who is up, and administer services."""

import logging

from oslo_config import cfg
from stevedore import driver as stevedore_driver

from svcframe.conf import database as database_conf
from svcframe.conf import servicegroup as servicegroup_conf
from svcframe.servicegroup._exceptions import ServiceGroupError
from svcframe.servicegroup._heartbeat import Membership
from svcframe.servicegroup.drivers import NAMESPACE

__all__ = ["API"]

# The logger keeps the name log lines carried before the module became private.
LOG = logging.getLogger("svcframe.servicegroup.api")

_MAX_NAME_LENGTH = 255


class API:
    """Which services are alive, backed by the driver ``servicegroup_driver`` names.

    ``conf`` defaults to ``cfg.CONF``; the options this needs are registered
    on it.  One API may be shared by threads; after a fork, each process
    opens its own connections.
    """

    def __init__(self, conf=None):
        self.conf = cfg.CONF if conf is None else conf
        servicegroup_conf.register_opts(self.conf)
        database_conf.register_opts(self.conf)
        self.report_interval = self.conf.report_interval
        self.service_down_time = servicegroup_conf.effective_service_down_time(self.conf)
        self.driver = _load_driver(self.conf, self.service_down_time)

    def join(
        self,
        host,
        binary,
        topic=None,
        version=None,
        report_interval=None,
        release=None,
        rpc_api_version=None,
    ):
        """Start heartbeats for ``binary`` on ``host`` in this process; return the Membership.

        Every heartbeat records ``version`` (an integer), ``release`` (the
        component's release) and ``rpc_api_version`` when they are given.

        The first report happens after ``initial_report_delay`` seconds, then
        every ``report_interval`` (the argument, else the configured one).
        Call it in each process that should be counted (each worker, after the
        fork) and ``stop()`` the result on shutdown.
        """
        _check_name("host", host)
        _check_name("binary", binary)
        if version is not None and not isinstance(version, int):
            raise TypeError(f"version must be an int or None, not {version!r}")
        membership = Membership(
            self.driver,
            host,
            binary,
            topic,
            version,
            report_interval=report_interval or self.report_interval,
            initial_delay=self.conf.initial_report_delay,
            release=release,
            rpc_api_version=rpc_api_version,
        )
        return membership.start()

    def service_is_up(self, record):
        """True if ``record``'s service reported within service_down_time and is not forced down."""
        return self.driver.is_up(record)

    def get_updated_time(self, record):
        """When ``record``'s service last reported; administrative changes do not move it."""
        return self.driver.updated_time(record)

    def get(self, host, binary):
        """The ServiceRecord of ``binary`` on ``host``; ServiceNotFound if unknown."""
        return self.driver.get(host, binary)

    def get_all(self, binary=None, host=None):
        """ServiceRecords sorted by binary then host, optionally filtered."""
        return self.driver.get_all(binary=binary, host=host)

    def get_up_hosts(self, binary):
        """Sorted hosts whose ``binary`` is up and enabled: where to send requests."""
        return sorted(
            {
                record.host
                for record in self.driver.get_all(binary=binary)
                if not record.disabled and self.driver.is_up(record)
            }
        )

    def disable(self, host, binary, reason=None):
        """Mark the service disabled (still reporting, but no longer offered work)."""
        self.driver.set_disabled(host, binary, True, reason)

    def enable(self, host, binary):
        """Mark the service enabled again and clear its disabled reason."""
        self.driver.set_disabled(host, binary, False)

    def force_down(self, host, binary, value=True):
        """Report the service down whatever its heartbeats say (``value=False`` clears it)."""
        self.driver.set_forced_down(host, binary, value)

    def delete(self, host, binary):
        """Remove the service's record; a service still running registers again."""
        self.driver.delete(host, binary)

    def close(self):
        """Release this process's connections to the registry."""
        self.driver.close()


def _load_driver(conf, service_down_time):
    name = conf.servicegroup_driver

    def _raise(manager, entrypoint, exc):
        raise ServiceGroupError(f"cannot load servicegroup driver {name!r}: {exc}") from exc

    try:
        manager = stevedore_driver.DriverManager(
            namespace=NAMESPACE,
            name=name,
            invoke_on_load=True,
            invoke_args=(conf,),
            invoke_kwds={"service_down_time": service_down_time},
            on_load_failure_callback=_raise,
        )
    except ServiceGroupError:
        raise
    except RuntimeError as exc:
        # stevedore's NoMatches: the package is installed without its entry points.
        raise ServiceGroupError(f"no servicegroup driver named {name!r}: {exc}") from exc
    LOG.debug("Servicegroup driver %s on %s", name, manager.driver.location)
    return manager.driver


def _check_name(kind, value):
    if not isinstance(value, str) or not value or len(value) > _MAX_NAME_LENGTH:
        raise ValueError(f"{kind} must be a non-empty string of at most 255 characters")
    if "@" in value and kind == "host":
        raise ValueError(f"host {value!r} must not contain '@'")
