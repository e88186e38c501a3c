"""The pytest plugin: fixtures for testing a svcframe component (see svcframe.testing)."""

import pytest

from svcframe import context as context_module
from svcframe.messaging import _ratelimit
from svcframe.testing.fixtures import (
    TRANSPORT_URL_ENV,
    ServiceRunner,
    make_test_conf,
    transport_for,
)


def pytest_addoption(parser):
    group = parser.getgroup("svcframe")
    group.addoption(
        "--svc-transport-url",
        default=None,
        help=f"transport URL for the svc_* fixtures (default: ${TRANSPORT_URL_ENV}, "
        "else fake://, the in-process transport)",
    )


@pytest.fixture(autouse=True)
def _svc_fresh_warning_limits():
    """Each test sees the first warning of each kind about bad messages.

    Those warnings are rate-limited per process: without this, a test
    asserting one would miss it when an earlier test logged the same kind.
    """
    _ratelimit.reset_all()


@pytest.fixture
def svc_conf(request, tmp_path):
    """A ConfigOpts for this test: fake:// transport, its own state and exchange."""
    return make_test_conf(tmp_path / "state", request.config.getoption("--svc-transport-url"))


@pytest.fixture
def svc_transport(svc_conf):
    """The transport of ``svc_conf``, cleaned up after the test."""
    transport = transport_for(svc_conf)
    yield transport
    transport.cleanup()


@pytest.fixture
def svc_service(svc_conf):
    """Start a component's service in this process: ``svc_service("conductor")``."""
    runner = ServiceRunner(svc_conf)
    yield runner.start
    runner.close()


@pytest.fixture
def svc_client(svc_conf, svc_transport):
    """Build a component client (an RPCAPI subclass) on the test's transport.

    A client whose class lists ALLOWED_REMOTE_EXMODS gets a transport of its
    own that allows them, so the component's exceptions arrive as themselves.
    """
    own_transports = []

    def make(api_class, **kwargs):
        transport = svc_transport
        allowed = getattr(api_class, "ALLOWED_REMOTE_EXMODS", None)
        if allowed and "transport" not in kwargs:
            transport = transport_for(svc_conf, allowed)
            own_transports.append(transport)
        kwargs.setdefault("transport", transport)
        return api_class(conf=svc_conf, **kwargs)

    yield make
    for transport in own_transports:
        transport.cleanup()


@pytest.fixture
def svc_context():
    """An admin RequestContext."""
    return context_module.get_admin_context()
