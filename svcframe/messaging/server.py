"""RPCServer: consumes a target's requests and runs them on an executor."""

import logging
import sys
import threading

from stevedore import driver as stevedore_driver

from svcframe.messaging import exceptions, tracking
from svcframe.messaging.dispatcher import RPCDispatcher

__all__ = ["RPCServer", "get_rpc_server"]

LOG = logging.getLogger(__name__)

EXECUTOR_NAMESPACE = "svcframe.executors"

# Errors about the request rather than the server: worth a line, not a traceback.
_REQUEST_ERRORS = (
    exceptions.NoSuchMethod,
    exceptions.UnsupportedVersion,
    exceptions.InvalidRequest,
)


def _raise_load_failure(manager, entrypoint, exc):
    raise exc


def _load_executor(name):
    try:
        manager = stevedore_driver.DriverManager(
            EXECUTOR_NAMESPACE, name, on_load_failure_callback=_raise_load_failure
        )
    except Exception as exc:
        raise exceptions.ExecutorLoadFailure(f"Cannot load executor {name!r}: {exc}") from exc
    return manager.driver


class RPCServer:
    """Serves a target's requests: listen, dispatch on an executor, reply.

    ``start()`` starts consuming, ``stop()`` stops consuming, ``wait()``
    waits for the requests in progress to finish and their replies to be
    sent, then releases the listener.
    """

    def __init__(self, transport, target, dispatcher, executor="threading"):
        self.conf = transport.conf
        self.transport = transport
        self.target = target
        self.dispatcher = dispatcher
        self.executor_type = executor
        self._executor_cls = _load_executor(executor)
        # Built now so that a refused executor (eventlet without monkey
        # patching) fails at creation, not at start.
        self._executor = self._executor_cls(self.conf)
        self._listener = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._running = False
        tracking.servers.add(self)

    def start(self):
        """Start consuming requests; a no-op if already started."""
        with self._lock:
            if self._running:
                return
            if self._executor is None:
                self._executor = self._executor_cls(self.conf)
            if self._listener is not None:
                # Restarted after stop() without wait(): the old consumers go.
                self._listener.cleanup()
                self._listener = None
            listener = self.transport._listen(self.target)
            try:
                listener.start(self._on_incoming)
            except BaseException:
                listener.cleanup()
                raise
            self._stopped.clear()
            self._listener = listener
            self._running = True

    def stop(self):
        """Stop consuming; requests already received still run (see wait())."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            listener = self._listener
        try:
            listener.stop()
        finally:
            self._stopped.set()

    def wait(self):
        """Block until stop() has been called and every request in progress has replied."""
        with self._lock:
            if self._listener is None:
                return
            if self._running:
                LOG.warning("wait() called before stop(): waiting for stop() of %s", self.target)
        self._stopped.wait()
        with self._lock:
            executor, self._executor = self._executor, None
            listener, self._listener = self._listener, None
        if executor is not None:
            executor.shutdown(wait=True)
        if listener is not None:
            listener.cleanup()

    def _on_incoming(self, incoming):
        # Runs in the listener's thread: nothing may escape from here.
        try:
            tracking.queued(self.target.topic)
            self._executor.submit(self._process, incoming)
        except Exception:
            tracking.unqueued(self.target.topic)
            LOG.exception(
                "Cannot run RPC method %s: the server is shutting down",
                _method_name(incoming),
            )

    def _process(self, incoming):
        slow = self.conf.rpc_slow_call_threshold
        request = tracking.start(self.target.topic, incoming, slow)
        failure = None
        outcome, known_method = "ok", True
        try:
            result = self.dispatcher.dispatch(incoming)
        except exceptions.ExpectedException as exc:
            failure = exc.exc_info
            outcome = "error"
            LOG.debug("Expected exception during message handling (%s)", failure[1])
        except _REQUEST_ERRORS as exc:
            failure = sys.exc_info()
            outcome, known_method = "rejected", False
            if isinstance(exc, exceptions.NoSuchMethod) and exc.method.endswith("_ignore_errors"):
                LOG.debug("Method %s not found", exc.method)
            else:
                LOG.warning("Rejected an RPC request: %s", exc)
        except Exception as exc:
            failure = sys.exc_info()
            if getattr(exc, "caller_error", False):
                outcome = "rejected"
                LOG.warning("Rejected an RPC request: %s", exc)
            else:
                outcome = "error"
                LOG.exception(
                    "Exception during message handling of RPC method %s", _method_name(incoming)
                )
        tracking.finish(request, outcome, known_method, slow)
        if not incoming.is_call:
            return
        try:
            if failure is None:
                incoming.reply(result)
            else:
                incoming.reply(failure=failure)
        except Exception:
            LOG.exception("Cannot send the reply to RPC method %s", _method_name(incoming))
        finally:
            # exc_info holds the frames of the failed call: drop them now.
            del failure

    def __repr__(self):
        return f"<RPCServer {self.target!r} executor={self.executor_type}>"


def _method_name(incoming):
    message = incoming.message
    if isinstance(message, dict):
        return repr(message.get("method"))
    return "(not an RPC message)"


def get_rpc_server(
    transport,
    target,
    endpoints,
    executor="threading",
    serializer=None,
    access_policy=None,
):
    """An RPCServer for ``target`` dispatching to ``endpoints`` (tried in order)."""
    # The ping endpoint is opt-in per configuration, as in oslo.messaging.
    dispatcher = RPCDispatcher(
        endpoints,
        serializer,
        access_policy,
        ping_enabled=transport.conf.rpc_ping_enabled,
    )
    return RPCServer(transport, target, dispatcher, executor)
