"""RPCClient: invokes methods on servers of a topic, by cast or call."""

import time

from svcframe.messaging import _tracking as tracking
from svcframe.messaging import _utils, exceptions
from svcframe.messaging.serializer import NoOpSerializer

__all__ = ["RPCClient", "get_rpc_client"]

_MARKER = object()


def _check_version(version, what="Version"):
    if version is _MARKER or version is None:
        return
    try:
        _utils.parse_version(version)
    except ValueError:
        raise exceptions.MessagingException(
            f"{what} must contain a major and minor integer. Got {version}"
        )


class _CallContext:
    """A target plus call options; what ``RPCClient.prepare()`` returns."""

    def __init__(
        self,
        transport,
        target,
        serializer,
        timeout=None,
        version_cap=None,
        retry=None,
        call_monitor_timeout=None,
        transport_options=None,
    ):
        self.conf = transport.conf
        self.transport = transport
        self.serializer = serializer
        self.timeout = timeout
        self.version_cap = version_cap
        self.retry = retry
        self.call_monitor_timeout = call_monitor_timeout
        self.transport_options = transport_options
        # What every message of this context shares, computed once: the
        # per-call path only builds args and sends.
        self._noop = type(serializer) is NoOpSerializer
        self._send = transport._send
        self.target = target

    @property
    def target(self):
        return self._target

    @target.setter
    def target(self, target):
        self._target = target
        self._extra = {}
        if target.namespace is not None:
            self._extra["namespace"] = target.namespace
        if target.version is not None:
            self._extra["version"] = target.version

    def _make_message(self, ctxt, method, kwargs):
        if self._noop:
            args = kwargs
        else:
            serialize = self.serializer.serialize_entity
            args = {name: serialize(ctxt, value) for name, value in kwargs.items()}
        message = {"method": method, "args": args}
        if self._extra:
            message.update(self._extra)
        return message

    def _check_version_cap(self):
        if self.version_cap is None:
            return
        version = self._target.version
        if not _utils.version_is_compatible(self.version_cap, version):
            raise exceptions.RPCVersionCapError(version=version, version_cap=self.version_cap)

    def can_send_version(self, version=_MARKER):
        """Whether ``version`` (default: the target's) is within the version cap."""
        if version is _MARKER:
            version = self.target.version
        return _utils.version_is_compatible(self.version_cap, version)

    def cast(self, ctxt, method, **kwargs):
        """Invoke ``method`` on one server of the topic (or all, with fanout); no reply."""
        self._check_version_cap()
        message = self._make_message(ctxt, method, kwargs)
        kind = "fanout" if self._target.fanout else "cast"
        self._send_and_record(ctxt, method, kind, message)

    def call(self, ctxt, method, **kwargs):
        """Invoke ``method`` on one server of the topic and return its result.

        Raises MessagingTimeout when no reply arrives within the timeout
        (``prepare(timeout=)``, else ``[DEFAULT] rpc_response_timeout``),
        or the remote exception (RemoteError unless its module is allowed).
        When no server listens on the topic the broker returns the request
        and the call fails at once: UnroutableCall, a MessagingTimeout, or
        MessageUndeliverable with ``TransportOptions(at_least_once=True)``.
        """
        if self._target.fanout:
            raise exceptions.InvalidTarget("A call cannot be used with fanout", self.target)
        self._check_version_cap()
        message = self._make_message(ctxt, method, kwargs)
        timeout = self.timeout
        if timeout is None:
            timeout = self.conf.rpc_response_timeout
        result = self._send_and_record(
            ctxt,
            method,
            "call",
            message,
            wait_for_reply=True,
            timeout=timeout,
            call_monitor_timeout=self.call_monitor_timeout,
        )
        if self._noop:
            return result
        return self.serializer.deserialize_entity(ctxt, result)

    def _send_and_record(self, ctxt, method, kind, message, **call_options):
        """Send ``message``; record how the request ended and how long it took."""
        target = self._target
        started, outcome = time.monotonic(), "ok"
        try:
            return self._send(
                target,
                self.serializer.serialize_context(ctxt),
                message,
                retry=self.retry,
                transport_options=self.transport_options,
                **call_options,
            )
        except Exception as exc:
            outcome = tracking.client_outcome(exc)
            raise
        finally:
            # Only a call can be slow: a cast does not wait for its server.
            slow = self.conf.rpc_slow_call_threshold if kind == "call" else 0
            tracking.record_client(target.topic, method, kind, outcome, started, slow, ctxt)

    def prepare(
        self,
        exchange=_MARKER,
        topic=_MARKER,
        namespace=_MARKER,
        version=_MARKER,
        server=_MARKER,
        fanout=_MARKER,
        timeout=_MARKER,
        version_cap=_MARKER,
        retry=_MARKER,
        call_monitor_timeout=_MARKER,
        transport_options=_MARKER,
    ):
        """A call context with some target fields or options changed; the rest is inherited."""
        _check_version(version)
        _check_version(version_cap, "Version cap")
        changes = {
            name: value
            for name, value in (
                ("exchange", exchange),
                ("topic", topic),
                ("namespace", namespace),
                ("version", version),
                ("server", server),
                ("fanout", fanout),
            )
            if value is not _MARKER
        }
        return _CallContext(
            self.transport,
            self.target(**changes),
            self.serializer,
            self.timeout if timeout is _MARKER else timeout,
            self.version_cap if version_cap is _MARKER else version_cap,
            self.retry if retry is _MARKER else retry,
            self.call_monitor_timeout if call_monitor_timeout is _MARKER else call_monitor_timeout,
            self.transport_options if transport_options is _MARKER else transport_options,
        )


class RPCClient(_CallContext):
    """Sends requests to the servers of ``target``, as oslo.messaging's RPCClient."""

    def __init__(
        self,
        transport,
        target,
        timeout=None,
        version_cap=None,
        serializer=None,
        retry=None,
        call_monitor_timeout=None,
        transport_options=None,
        _manual_load=True,
    ):
        # _manual_load is oslo.messaging's (it loads the client lazily); accepted, unused.
        _check_version(target.version)
        _check_version(version_cap, "Version cap")
        super().__init__(
            transport,
            target,
            serializer or NoOpSerializer(),
            timeout=timeout,
            version_cap=version_cap,
            retry=retry,
            call_monitor_timeout=call_monitor_timeout,
            transport_options=transport_options,
        )

    def __repr__(self):
        return f"<RPCClient {self.target!r}>"


def get_rpc_client(transport, target, client_cls=RPCClient, **kwargs):
    """A ``client_cls`` (RPCClient) for ``target`` on ``transport``.

    ``kwargs`` are RPCClient's: timeout, version_cap, serializer, retry,
    call_monitor_timeout, transport_options.
    """
    return client_cls(transport, target, **kwargs)
