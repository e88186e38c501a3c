"""The building blocks behind the pytest fixtures, usable without pytest."""

import os
import uuid

from oslo_config import cfg

from svcframe import components, messaging
from svcframe import service as service_module
from svcframe.conf import database as database_conf
from svcframe.conf._groups import register_group_opts

__all__ = ["ServiceRunner", "make_test_conf", "DEFAULT_TRANSPORT_URL", "TRANSPORT_URL_ENV"]

DEFAULT_TRANSPORT_URL = "fake://"
TRANSPORT_URL_ENV = "SVCFRAME_TEST_TRANSPORT_URL"


def make_test_conf(state_path, transport_url=None, **overrides):
    """A ConfigOpts for one test: its own state directory, exchange and host.

    ``overrides`` are ``name=value`` for [DEFAULT] options or
    ``group__name=value`` for grouped ones (``conductor__workers=1``); the
    group of an installed component is registered for its override.
    """
    conf = cfg.ConfigOpts()
    service_module.register_opts(conf)
    database_conf.register_opts(conf)
    for group in {key.rpartition("__")[0] for key in overrides} - {""}:
        _register_component_group(conf, group)
    conf([], project="svcframe", default_config_files=[], default_config_dirs=[])
    url = transport_url or os.environ.get(TRANSPORT_URL_ENV) or DEFAULT_TRANSPORT_URL
    conf.set_override("transport_url", url)
    conf.set_override("state_path", str(state_path))
    conf.set_override("control_exchange", f"svctest_{uuid.uuid4().hex[:12]}")
    conf.set_override("host", "test-host")
    # Tests want answers in seconds and no waiting for the first heartbeat.
    conf.set_override("rpc_response_timeout", 10)
    conf.set_override("initial_report_delay", 0)
    conf.set_override("periodic_fuzzy_delay", 0)
    for key, value in overrides.items():
        group, _, name = key.rpartition("__")
        try:
            conf.set_override(name, value, group=group or None)
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError) as exc:
            raise ValueError(
                f"{key}={value!r}: {exc}. A component's own options exist once it registers "
                "them: call its register_opts(conf) first, or set_override() after starting it."
            ) from None
    return conf


def _register_component_group(conf, group):
    try:
        conf[group]
    except cfg.NoSuchOptError:
        found = components.group_opts(group)
        if found is None:
            return  # the override says which group is unknown
        opt_group, opts = found
        if isinstance(opt_group, cfg.OptGroup):
            register_group_opts(conf, opt_group, opts)
        else:
            conf.register_opts(opts, group=opt_group)


class ServiceRunner:
    """Starts services in this process and stops them all (in reverse order) on close()."""

    def __init__(self, conf):
        self.conf = conf
        self._services = []

    def start(self, component, host=None, topic=None, periodic_enable=False, **create_kwargs):
        """Start ``component`` (a registered name, or a Manager class) and return the Service."""
        if isinstance(component, str):
            manager = components.load_manager_class(component)
            binary = components.BINARY_PREFIX + components.component_name(component)
        else:
            manager = component
            binary = components.BINARY_PREFIX + (
                getattr(component, "service_name", None) or component.__name__.lower()
            )
        service = service_module.Service.create(
            host=host,
            binary=binary,
            topic=topic,
            manager=manager,
            periodic_enable=periodic_enable,
            conf=self.conf,
            **create_kwargs,
        )
        service.start()
        self._services.append(service)
        return service

    def stop(self, service):
        """Stop one service gracefully: in-flight requests finish first."""
        if service in self._services:
            self._services.remove(service)
        service.stop()
        service.wait()

    def close(self):
        while self._services:
            self.stop(self._services[-1])


def transport_for(conf, allowed_remote_exmods=None):
    return messaging.get_rpc_transport(conf, allowed_remote_exmods=allowed_remote_exmods)
