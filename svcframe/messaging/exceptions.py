"""The messaging exceptions, under one root.

Each class says in its type whether trying again can help: subclasses of
``RetriableError`` are about the path to the peer (broker gone, no reply in
time) and a retry may succeed; everything else is about the request itself
and will fail the same way again.
"""

import functools
import sys

__all__ = [
    "MessagingException",
    "RetriableError",
    "MessagingTimeout",
    "MessageDeliveryFailure",
    "MessageUndeliverable",
    "UnroutableCall",
    "TransportUnavailable",
    "ClientSendError",
    "ServerListenError",
    "RemoteError",
    "InvalidTarget",
    "InvalidTransportURL",
    "DriverLoadFailure",
    "ExecutorLoadFailure",
    "RPCVersionCapError",
    "MessagingServerError",
    "RPCDispatcherError",
    "NoSuchMethod",
    "UnsupportedVersion",
    "InvalidRequest",
    "UnsupportedEnvelopeVersion",
    "ExpectedException",
    "expected_exceptions",
]


class MessagingException(Exception):
    """Root of every svcframe messaging error."""


class RetriableError(MessagingException):
    """The request may succeed if sent again: the transport, not the request, failed."""


class MessagingTimeout(RetriableError):
    """No reply (or call-monitor heartbeat) arrived in time."""


class MessageDeliveryFailure(RetriableError):
    """The message could not be handed to the broker, or the broker could not route it."""


class MessageUndeliverable(MessageDeliveryFailure):
    """The broker returned a message it could not route (at-least-once delivery).

    Raised at once by a call or cast sent with
    ``TransportOptions(at_least_once=True)`` when no queue is bound to its
    routing key.  The arguments are oslo.messaging's.
    """

    def __init__(self, exception=None, exchange=None, routing_key=None, message=None):
        self.exception = exception
        self.exchange = exchange
        self.routing_key = routing_key
        self.message = message
        super().__init__(
            f"No queue is bound to {routing_key!r} on exchange {exchange!r}: "
            f"the broker returned the message ({exception})"
        )


class UnroutableCall(MessagingTimeout, MessageDeliveryFailure):
    """No server listens on the call's topic: the broker returned the request.

    A MessagingTimeout, raised at once instead of after the call timeout:
    code written for oslo.messaging, where such a call times out, catches
    it unchanged.  Ask for MessageUndeliverable with
    ``TransportOptions(at_least_once=True)``.
    """


class TransportUnavailable(MessageDeliveryFailure):
    """The broker cannot be reached (all hosts tried), or refused the login.

    A MessageDeliveryFailure, as oslo.messaging reports a send that ran out
    of connection retries, so code written for it catches this too.
    """


class RemoteError(MessagingException):
    """The remote endpoint raised an exception this side may not re-raise as itself.

    ``exc_type`` is the remote class name, ``value`` its message and
    ``traceback`` the remote traceback text.
    """

    def __init__(self, exc_type=None, value=None, traceback=None):
        self.exc_type = exc_type
        self.value = value
        self.traceback = traceback
        msg = f"Remote error: {exc_type} {value}\n{traceback}."
        super().__init__(msg)


class InvalidTarget(MessagingException, ValueError):
    """The target is not usable for this operation (no topic, fanout call, ...)."""

    def __init__(self, msg, target):
        self.target = target
        super().__init__(f"{msg}: {target}")


class InvalidTransportURL(MessagingException):
    """The transport URL cannot be parsed."""

    def __init__(self, url, msg):
        self.url = url
        super().__init__(msg)


class DriverLoadFailure(MessagingException):
    """No transport driver answers to the URL's scheme."""


class ExecutorLoadFailure(MessagingException):
    """No executor of that name is installed."""


class RPCVersionCapError(MessagingException):
    """The client refuses to send a version above its version cap."""

    def __init__(self, version, version_cap):
        self.version = version
        self.version_cap = version_cap
        super().__init__(
            f"Requested message version, {version} is incompatible. It needs "
            f"to be equal in major version and less than or equal in minor "
            f"version as the specified version cap {version_cap}."
        )


class ClientSendError(MessagingException):
    """A client failed to send a message to ``target`` (oslo.messaging's name)."""

    def __init__(self, target, ex):
        self.target = target
        self.ex = ex
        super().__init__(f'Failed to send to target "{target}": {ex}')


class MessagingServerError(MessagingException):
    """A server-side failure to handle a message."""


class ServerListenError(MessagingServerError):
    """A server could not start consuming on its target (oslo.messaging's name)."""

    def __init__(self, target, ex):
        self.target = target
        self.ex = ex
        super().__init__(f"Failed to listen on target {target!r}: {ex}")


class RPCDispatcherError(MessagingServerError):
    """The dispatcher could not hand the request to an endpoint."""


class NoSuchMethod(RPCDispatcherError, AttributeError):
    """An endpoint matched namespace and version but has no such public method."""

    def __init__(self, method):
        self.method = method
        super().__init__(f"Endpoint does not support RPC method {method}")


class UnsupportedVersion(RPCDispatcherError):
    """No endpoint implements the requested namespace and version."""

    def __init__(self, version, method=None):
        self.version = version
        self.method = method
        super().__init__(
            f"Endpoint does not support RPC version {version}. Attempted method: {method}"
        )


class InvalidRequest(RPCDispatcherError):
    """The request is not a well-formed RPC message (no method, args not a dict, ...)."""


class UnsupportedEnvelopeVersion(MessagingServerError):
    """The message envelope is of a version this side cannot read."""

    def __init__(self, version):
        self.version = version
        super().__init__(f"Unsupported message envelope version {version!r}")


class ExpectedException(Exception):
    """Wraps an exception an endpoint declared it may raise; unwrapped before the reply."""

    def __init__(self):
        self.exc_info = sys.exc_info()


def expected_exceptions(*exceptions):
    """Decorate an endpoint method whose listed exceptions are part of its API.

    They go back to the caller as usual but are logged by the server at
    DEBUG instead of as an error with a traceback.
    """

    def outer(func):
        @functools.wraps(func)
        def inner(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except exceptions:
                raise ExpectedException()

        return inner

    return outer
