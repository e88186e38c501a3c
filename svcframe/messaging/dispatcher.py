"""RPCDispatcher: finds the endpoint method a request names and calls it.

The matching rules are oslo.messaging's: endpoints are tried in order and
the first one whose namespace and version match and which has the
(allowed) method wins.

What a request may name is narrower than oslo.messaging's ``getattr``: only
a function defined in the body of the endpoint's class (or a base class) is
an RPC method, whatever the access policy (see ``rpc_method``).  Instance
attributes (a manager's ``conf`` or ``host``), properties, nested classes,
other callable objects, dunder names, ``@periodic_task`` methods and the
names a class reserves in ``_rpc_reserved_names`` (a Manager's life-cycle
hooks) are never called; the caller gets ``NoSuchMethod``.
"""

import inspect
import logging
import threading
import types
import weakref

from svcframe.messaging import _utils, exceptions
from svcframe.messaging._ratelimit import RateLimitedLog, shorten
from svcframe.messaging.serializer import NoOpSerializer
from svcframe.messaging.target import Target

__all__ = [
    "RPCAccessPolicyBase",
    "DefaultRPCAccessPolicy",
    "ExplicitRPCAccessPolicy",
    "LegacyRPCAccessPolicy",
    "PingEndpoint",
    "RPCDispatcher",
    "expose",
    "rpc_method",
]

LOG = logging.getLogger(__name__)
_BAD_TIMEOUT = RateLimitedLog(LOG)

DEFAULT_VERSION = "1.0"
# Argument-name sets remembered per endpoint method as known to bind.
_BOUND_NAMES_CACHE = 32


def wrong_arguments(message):
    """The error for arguments that do not fit the method: a TypeError, as in oslo.messaging.

    oslo.messaging calls the method and its callers get Python's TypeError,
    which every client re-raises as itself; so does ours.  Checking the names
    before the call tells the caller's mistake from a TypeError raised inside
    the method: ``caller_error`` marks it, and the server logs it as one line.
    """
    exc = TypeError(message)
    exc.caller_error = True
    return exc


def expose(func):
    """Mark an endpoint method callable under ExplicitRPCAccessPolicy."""
    func.exposed = True
    return func


# Per endpoint class: the names known to be RPC methods.  Only names that
# are (bounded by the class bodies) are remembered, never names from the wire
# that are not.
_RPC_METHODS = weakref.WeakKeyDictionary()


def _class_function(klass, name):
    """The function ``name`` is in the first class of ``klass``'s MRO defining it, or None."""
    for base in klass.__mro__:
        if name in vars(base):
            attr = vars(base)[name]
            break
    else:
        return None
    if isinstance(attr, (staticmethod, classmethod)):
        attr = attr.__func__
    # A plain ``def`` (decorators built with functools.wraps included), not a
    # property, a nested class, a callable object or a builtin.
    return attr if isinstance(attr, types.FunctionType) else None


def rpc_method(endpoint, name):
    """True if ``name`` is a method a request may call on ``endpoint``, by its definition.

    It must be a function (plain, static or class method) defined on the
    endpoint's class or a base class, not a dunder name, not a periodic task
    (oslo.service's ``@periodic_task`` sets ``_periodic_task``) and not one
    of the class's ``_rpc_reserved_names``.  An instance attribute of the
    same name (a test double) is called instead if it is callable; an
    instance attribute alone never makes a method.  Whether a ``_name`` is
    allowed is the access policy's decision, not this one.
    """
    if not isinstance(name, str) or (name.startswith("__") and name.endswith("__")):
        return False
    klass = type(endpoint)
    known = _RPC_METHODS.get(klass)
    if known is None or name not in known:
        func = _class_function(klass, name)
        if (
            func is None
            or getattr(func, "_periodic_task", False)
            or name in getattr(klass, "_rpc_reserved_names", ())
        ):
            return False
        _RPC_METHODS.setdefault(klass, set()).add(name)
    shadow = getattr(endpoint, "__dict__", {}).get(name)
    return shadow is None or callable(shadow)


class RPCAccessPolicyBase:
    """Decides which endpoint methods a request may call.

    The dispatcher asks a policy only about names that ``rpc_method``
    accepts: a policy can narrow the RPC surface, never widen it.
    """

    def is_allowed(self, endpoint, method):
        raise NotImplementedError


class LegacyRPCAccessPolicy(RPCAccessPolicyBase):
    """Every RPC method may be called, private ones (``_name``) included."""

    def is_allowed(self, endpoint, method):
        return rpc_method(endpoint, method)


class DefaultRPCAccessPolicy(RPCAccessPolicyBase):
    """RPC methods whose name starts with '_' may not be called."""

    def is_allowed(self, endpoint, method):
        return not method.startswith("_") and rpc_method(endpoint, method)


class ExplicitRPCAccessPolicy(RPCAccessPolicyBase):
    """Only RPC methods decorated with ``@expose`` may be called."""

    def is_allowed(self, endpoint, method):
        return rpc_method(endpoint, method) and hasattr(getattr(endpoint, method), "exposed")


class PingEndpoint:
    """Answers ``oslo_rpc_server_ping`` when ``rpc_ping_enabled`` is set."""

    def oslo_rpc_server_ping(self, ctxt, **kwargs):
        return "pong"


def _check_endpoint(endpoint):
    target = getattr(endpoint, "target", None)
    if target is None:
        return None, DEFAULT_VERSION
    if not isinstance(target, Target):
        raise TypeError(
            "'target' is a reserved endpoint attribute used for namespace and "
            "version filtering; it must be a svcframe.messaging.Target. Do not "
            f"define an endpoint method named 'target': endpoint={endpoint!r}"
        )
    version = target.version or DEFAULT_VERSION
    try:
        _utils.parse_version(version)
    except ValueError as exc:
        raise ValueError(f"Endpoint {endpoint!r} has an invalid target version: {exc}")
    return target, version


def _make_policy(access_policy):
    if access_policy is None:
        return DefaultRPCAccessPolicy()
    if isinstance(access_policy, RPCAccessPolicyBase):
        return access_policy
    if isinstance(access_policy, type) and issubclass(access_policy, RPCAccessPolicyBase):
        return access_policy()
    raise TypeError("access_policy must be a subclass (or an instance) of RPCAccessPolicyBase")


class CallMonitorHeartbeat:
    """Sends call-monitor heartbeats while a call runs, every client_timeout/2 seconds."""

    def __init__(self, incoming):
        self._incoming = incoming
        self._done = threading.Event()
        self._thread = None
        try:
            client_timeout = int(incoming.client_timeout)
        except (TypeError, ValueError):
            client_timeout = 0
        # The client gives up after client_timeout without news; heartbeats
        # at half of it leave room for queuing on the way there and back.
        self._interval = client_timeout / 2
        if self._interval < 1:
            _BAD_TIMEOUT.warning(
                "timeout",
                "Client provided an invalid timeout value of %s",
                shorten(repr(incoming.client_timeout)),
            )
            return
        self._thread = threading.Thread(target=self._run, name="rpc-call-monitor", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._done.wait(self._interval):
            try:
                self._incoming.heartbeat()
            except Exception as exc:
                # The caller or the broker is gone; the call times out on
                # its side as it should, nothing more to tell it.
                LOG.debug("Call-monitor heartbeat failed: %s", exc)
                return

    def stop(self):
        self._done.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()


class RPCDispatcher:
    """Dispatches requests to endpoints by namespace, version and method name."""

    def __init__(self, endpoints, serializer=None, access_policy=None, ping_enabled=False):
        self.endpoints = list(endpoints)
        self._matchers = []
        has_ping = False
        for endpoint in self.endpoints:
            target, version = _check_endpoint(endpoint)
            namespaces = target.accepted_namespaces if target is not None else [None]
            self._matchers.append((endpoint, tuple(namespaces), version))
            if getattr(endpoint, "oslo_rpc_server_ping", None) is not None:
                has_ping = True
                LOG.warning(
                    "'oslo_rpc_server_ping' is a reserved endpoint attribute used to "
                    "ping the server; avoid oslo_* names (endpoint=%r)",
                    endpoint,
                )
        if ping_enabled:
            if has_ping:
                LOG.warning(
                    "rpc_ping_enabled=True but an endpoint already has "
                    "oslo_rpc_server_ping; not adding the ping endpoint"
                )
            else:
                ping = PingEndpoint()
                self.endpoints.append(ping)
                self._matchers.append((ping, (None,), DEFAULT_VERSION))
        self.serializer = serializer or NoOpSerializer()
        self.access_policy = _make_policy(access_policy)
        # Signatures are costly to compute and endpoints are long-lived.
        self._signatures = weakref.WeakKeyDictionary()

    def dispatch(self, incoming):
        """Call the endpoint method ``incoming`` asks for and return its serialized result.

        Raises InvalidRequest, NoSuchMethod, UnsupportedVersion, a TypeError
        for arguments that do not fit the method, or whatever the method
        raised.  While it runs, call-monitor heartbeats go to the caller if
        it asked for them.
        """
        heartbeat = CallMonitorHeartbeat(incoming) if incoming.client_timeout else None
        try:
            method, args, namespace, version = self._validate(incoming.message)
            return self._dispatch(incoming.ctxt, method, args, namespace, version)
        finally:
            if heartbeat is not None:
                heartbeat.stop()

    def _dispatch(self, ctxt, method, args, namespace, version):
        found_compatible = False
        policy = self.access_policy
        for endpoint, namespaces, imp_version in self._matchers:
            if namespace not in namespaces or not _utils.version_is_compatible(
                imp_version, version
            ):
                continue
            if rpc_method(endpoint, method) and policy.is_allowed(endpoint, method):
                return self._call(endpoint, method, ctxt, args)
            found_compatible = True
        if found_compatible:
            raise exceptions.NoSuchMethod(method)
        raise exceptions.UnsupportedVersion(version, method=method)

    def _call(self, endpoint, method, ctxt, args):
        func = getattr(endpoint, method)
        self._check_arguments(func, method, args)
        serializer = self.serializer
        ctxt = serializer.deserialize_context(ctxt)
        kwargs = {name: serializer.deserialize_entity(ctxt, arg) for name, arg in args.items()}
        result = func(ctxt, **kwargs)
        return serializer.serialize_entity(ctxt, result)

    def _check_arguments(self, func, method, args):
        # Binding first tells a caller's wrong argument name apart from a
        # TypeError raised inside the method.
        checker = self._checker(func)
        if checker is None:
            return
        signature, names, bound = checker
        if names is not None:
            # Whether binding succeeds depends only on the argument names:
            # a set of names that bound once is not bound again.
            arg_names = frozenset(args)
            if arg_names in bound:
                return
            for name in args:
                if name not in names:
                    raise wrong_arguments(
                        f"RPC method {method!r} got an unexpected argument {name!r}"
                    )
        try:
            signature.bind(None, **args)
        except TypeError as exc:
            raise wrong_arguments(f"RPC method {method!r} {exc}")
        if names is not None and len(bound) < _BOUND_NAMES_CACHE:
            bound.add(arg_names)

    def _checker(self, func):
        """(signature, names it accepts by keyword or None for any, name sets that bound).

        Cached per function.
        """
        key = getattr(func, "__func__", func)
        try:
            return self._signatures[key]
        except KeyError:
            pass
        except TypeError:
            key = None
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):
            checker = None
        else:
            params = signature.parameters.values()
            if any(p.kind is p.VAR_KEYWORD for p in params):
                names = None
            else:
                names = frozenset(p.name for p in params if p.kind is not p.POSITIONAL_ONLY)
            checker = (signature, names, set())
        if key is not None:
            try:
                self._signatures[key] = checker
            except TypeError:
                pass
        return checker

    @staticmethod
    def _validate(message):
        if not isinstance(message, dict):
            raise exceptions.InvalidRequest(
                f"An RPC message must be an object, not {type(message).__name__}"
            )
        method = message.get("method")
        if method is None:
            raise exceptions.InvalidRequest("The RPC message has no 'method'")
        if not isinstance(method, str):
            raise exceptions.InvalidRequest(
                f"The RPC message's 'method' must be a string, not {type(method).__name__}"
            )
        args = message.get("args", {})
        if not isinstance(args, dict):
            raise exceptions.InvalidRequest(
                f"The 'args' of RPC method {method!r} must be an object, not {type(args).__name__}"
            )
        namespace = message.get("namespace")
        if namespace is not None and not isinstance(namespace, str):
            raise exceptions.InvalidRequest(
                f"The 'namespace' of RPC method {method!r} must be a string, "
                f"not {type(namespace).__name__}"
            )
        version = message.get("version", DEFAULT_VERSION)
        if not isinstance(version, str):
            # Checked before parse_version(), whose cache cannot hash a list.
            raise exceptions.InvalidRequest(
                f"The 'version' of RPC method {method!r} must be a string, "
                f"not {type(version).__name__}"
            )
        try:
            _utils.parse_version(version)
        except ValueError as exc:
            raise exceptions.InvalidRequest(f"Invalid 'version' for RPC method {method!r}: {exc}")
        return method, args, namespace, version
