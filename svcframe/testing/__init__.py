"""Testing a component: fixtures for pytest, also usable from plain code.

Installed as a pytest plugin (the ``pytest11`` entry point ``svcframe``),
so a component's tests get these fixtures without importing anything:

``svc_conf``
    A fresh ConfigOpts with every svcframe option registered, state under
    the test's tmp_path, the in-process ``fake://`` transport (or the URL
    given with ``--svc-transport-url`` / ``SVCFRAME_TEST_TRANSPORT_URL``),
    and a control exchange of its own.
``svc_transport``
    The transport for ``svc_conf``; cleaned up after the test.
``svc_service``
    A factory that starts a component's service in this process and stops
    it after the test: ``svc_service("conductor")`` or
    ``svc_service(MyManager, host="node1")``.
``svc_client``
    A factory for a component's client: ``svc_client(ConductorAPI)``.
``svc_context``
    An admin RequestContext.

A complete test::

    def test_describe(svc_service, svc_client, svc_context):
        svc_service("conductor")
        api = svc_client(ConductorAPI)
        assert api.describe(svc_context)["service"] == "conductor"

``wait_until(predicate, timeout=10.0)`` polls for what happens elsewhere (a
cast handled, a process ready) and fails the test with what was awaited and
the last value seen.
"""

from svcframe.testing.fixtures import ServiceRunner, make_test_conf
from svcframe.testing.waiting import WaitTimeout, wait_until

__all__ = ["ServiceRunner", "WaitTimeout", "make_test_conf", "wait_until"]
