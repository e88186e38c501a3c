"""Runs oslo.messaging's own functional tests with its names pointed at svcframe's.

    python oslo_suite_runner.py MODE CASE [CASE ...]

loads the installed ``oslo_messaging/tests/functional/test_functional.py``
and its ``utils.py`` as fresh modules whose ``oslo_messaging`` global is a
stand-in: oslo.messaging itself, with the names of MODE's side replaced.
The test code, arguments and configuration are oslo.messaging's, unchanged.
Prints one JSON line: {test id: "ok" | "skip: why" | "FAIL: traceback"}.

Modes:

* ``svcframe``: every RPC (and notification) name is svcframe.messaging's.
* ``oslo-client``: oslo.messaging clients call svcframe servers (and
  oslo.messaging notifiers reach svcframe listeners).
* ``oslo-server``: svcframe clients call oslo.messaging servers (and
  svcframe notifiers reach oslo.messaging listeners).
* ``oslo``: oslo.messaging alone, the control.

In the mixed modes the fixtures ask one ``get_rpc_transport`` for both
ends: it returns a transport of each library on the same ConfigOpts (the
two register their options side by side), and each library's client or
server takes its own.
"""

import importlib.util
import json
import os
import sys
import types
import unittest
import warnings

warnings.simplefilter("ignore")

import oslo_messaging  # noqa: E402
from oslo_messaging.notify import notifier as oslo_notifier  # noqa: E402

import svcframe.messaging  # noqa: E402

FUNCTIONAL = os.path.join(os.path.dirname(oslo_messaging.__file__), "tests", "functional")

# The names an RPC user calls, by the side that provides them.
CLIENT_NAMES = (
    "get_rpc_client",
    "RPCClient",
    "TransportOptions",
    "MessagingTimeout",
    "MessageUndeliverable",
    "MessageDeliveryFailure",
    "MessagingException",
    "RemoteError",
    "rpc",
)
SERVER_NAMES = ("get_rpc_server", "Target", "TransportURL")
TRANSPORT_NAMES = ("get_rpc_transport", "get_transport")
NOTIFY_NAMES = (
    "get_notification_transport",
    "get_notification_listener",
    "get_batch_notification_listener",
    "Notifier",
    "NotificationFilter",
    "NotificationResult",
)


class TransportPair:
    """One transport of each library, for fixtures that build both ends from one call."""

    def __init__(self, client_side, server_side):
        self.client_side = client_side
        self.server_side = server_side
        self.conf = server_side.conf

    def cleanup(self):
        self.client_side.cleanup()
        self.server_side.cleanup()


def _mixed(client_lib, server_lib):
    def get_rpc_transport(conf, url=None, **kwargs):
        return TransportPair(
            client_lib.get_rpc_transport(conf, url=url, **kwargs),
            server_lib.get_rpc_transport(conf, url=url, **kwargs),
        )

    def get_rpc_client(transport, target, *args, **kwargs):
        return client_lib.get_rpc_client(transport.client_side, target, *args, **kwargs)

    def get_rpc_server(transport, target, endpoints, *args, **kwargs):
        return server_lib.get_rpc_server(transport.server_side, target, endpoints, *args, **kwargs)

    def get_notification_transport(conf, url=None, **kwargs):
        return TransportPair(
            client_lib.get_notification_transport(conf, url=url, **kwargs),
            server_lib.get_notification_transport(conf, url=url, **kwargs),
        )

    def Notifier(transport, *args, **kwargs):  # noqa: N802 - stands in for the class
        return client_lib.Notifier(transport.client_side, *args, **kwargs)

    def get_notification_listener(transport, *args, **kwargs):
        return server_lib.get_notification_listener(transport.server_side, *args, **kwargs)

    def get_batch_notification_listener(transport, *args, **kwargs):
        return server_lib.get_batch_notification_listener(transport.server_side, *args, **kwargs)

    names = {name: getattr(client_lib, name) for name in CLIENT_NAMES}
    names.update({name: getattr(server_lib, name) for name in SERVER_NAMES})
    names.update(
        get_rpc_transport=get_rpc_transport,
        get_transport=get_rpc_transport,
        get_rpc_client=get_rpc_client,
        get_rpc_server=get_rpc_server,
        get_notification_transport=get_notification_transport,
        Notifier=Notifier,
        get_notification_listener=get_notification_listener,
        get_batch_notification_listener=get_batch_notification_listener,
    )
    return names


def stand_in(mode):
    """A module like oslo_messaging with MODE's names swapped in."""
    module = types.ModuleType("oslo_messaging")
    module.__dict__.update(vars(oslo_messaging))
    svc = svcframe.messaging
    if mode == "svcframe":
        names = CLIENT_NAMES + SERVER_NAMES + TRANSPORT_NAMES
        module.__dict__.update({name: getattr(svc, name) for name in names})
        module.__dict__.update({name: getattr(svc, name) for name in NOTIFY_NAMES})
    elif mode == "oslo-client":
        module.__dict__.update(_mixed(oslo_messaging, svc))
    elif mode == "oslo-server":
        module.__dict__.update(_mixed(svc, oslo_messaging))
    elif mode != "oslo":
        raise SystemExit(f"unknown mode {mode!r}")
    return module


def _load(name, path, **swapped):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Functions read their globals when called: the stand-ins apply to every test.
    vars(module).update(swapped)
    return module


def load_tests(mode):
    messaging = stand_in(mode)
    # utils.py reaches Notifier through oslo_messaging.notify.notifier.
    notifier = oslo_notifier
    if mode != "oslo":
        notifier = types.SimpleNamespace(Notifier=messaging.Notifier)
    utils = _load(
        f"oslo_functional_utils_{mode}",
        os.path.join(FUNCTIONAL, "utils.py"),
        oslo_messaging=messaging,
        notifier=notifier,
    )
    return _load(
        f"oslo_functional_tests_{mode}",
        os.path.join(FUNCTIONAL, "test_functional.py"),
        oslo_messaging=messaging,
        utils=utils,
    )


class _Result(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.outcomes = {}

    def addSuccess(self, test):
        self.outcomes[test.id()] = "ok"

    def addFailure(self, test, err):
        self.outcomes[test.id()] = "FAIL: " + self._exc_info_to_string(err, test)

    addError = addFailure

    def addSkip(self, test, reason):
        self.outcomes[test.id()] = f"skip: {reason}"


def main(argv):
    mode, cases = argv[0], argv[1:]
    module = load_tests(mode)
    loader = unittest.TestLoader()
    suite = unittest.TestSuite(
        loader.loadTestsFromTestCase(getattr(module, case)) for case in cases
    )
    result = _Result()
    suite.run(result)
    print(json.dumps(result.outcomes), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
