"""MessageHandlingServer and RPCServer: consume messages and run them on an executor.

An RPC request is acknowledged to the broker when an executor thread starts it (calls,
and casts in ``on_receipt`` mode) or when its method has returned or
raised (casts in ``after_processing`` mode).  Requests received and not
started yet are never acknowledged: the driver's prefetch bounds them, and
stop() gives them back to the broker at once instead of running them.
"""

import logging
import sys
import threading

from stevedore import driver as stevedore_driver

from svcframe.messaging import _tracking as tracking
from svcframe.messaging import _utils, exceptions
from svcframe.messaging._ratelimit import RateLimitedLog, shorten
from svcframe.messaging.dispatcher import RPCDispatcher

__all__ = [
    "ACK_MODES",
    "ExecutorLoadFailure",
    "MessageHandlingServer",
    "MessagingServerError",
    "RPCServer",
    "ServerListenError",
    "get_rpc_server",
]

LOG = logging.getLogger(__name__)
# Rejections are about what a peer sent: a line per kind, not per message.
_REJECTED = RateLimitedLog(LOG)

# oslo_messaging.server's names for these.
ExecutorLoadFailure = exceptions.ExecutorLoadFailure
MessagingServerError = exceptions.MessagingServerError
ServerListenError = exceptions.ServerListenError

EXECUTOR_NAMESPACE = "svcframe.executors"
DEFAULT_EXECUTOR = "threading"

# Errors about the request rather than the server: worth a line, not a traceback.
_REQUEST_ERRORS = (
    exceptions.NoSuchMethod,
    exceptions.UnsupportedVersion,
    exceptions.InvalidRequest,
)


ACK_MODES = ("after_processing", "on_receipt")


class _Work:
    """A request between its receipt and the executor thread that runs it."""

    __slots__ = ("incoming",)

    def __init__(self, incoming):
        self.incoming = incoming


def _load_executor(name):
    try:
        manager = stevedore_driver.DriverManager(
            EXECUTOR_NAMESPACE, name, on_load_failure_callback=_utils.raise_load_failure
        )
    except Exception as exc:
        raise exceptions.ExecutorLoadFailure(f"Cannot load executor {name!r}: {exc}") from exc
    return manager.driver


class MessageHandlingServer:
    """Consumes messages and runs them on an executor; RPCServer and the listeners are ones.

    ``start()`` starts consuming, ``stop()`` stops consuming, ``wait()``
    waits for the messages in progress to be handled, then releases the
    listener.  ``executor`` None means the default, ``threading``.
    Subclasses provide ``_create_listener()`` and ``_process(incoming)``.
    """

    def __init__(self, transport, dispatcher, executor=None):
        executor = executor or DEFAULT_EXECUTOR
        self.conf = transport.conf
        self.transport = transport
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
            listener = self._create_listener()
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
            self._stopped_consuming()
            self._stopped.set()

    def _stopped_consuming(self):
        """Called once consumers are cancelled, before wait() may return."""

    def wait(self):
        """Block until stop() has been called and every request in progress has replied."""
        with self._lock:
            if self._listener is None:
                return
            if self._running:
                LOG.warning("wait() called before stop(): waiting for stop() of %r", self)
        self._stopped.wait()
        with self._lock:
            executor, self._executor = self._executor, None
            listener, self._listener = self._listener, None
        if executor is not None:
            executor.shutdown(wait=True)
        if listener is not None:
            listener.cleanup()

    def reset(self):
        """oslo.service's ServiceBase hook: nothing to do, kept for the contract."""

    def _on_incoming(self, incoming):
        # Runs in the listener's thread: nothing may escape from here.
        try:
            self._executor.submit(self._process, incoming)
        except Exception:
            LOG.exception(
                "Cannot handle message %s: the server is shutting down",
                _method_name(incoming),
            )

    def _create_listener(self):
        raise NotImplementedError

    def _process(self, incoming):
        raise NotImplementedError


class RPCServer(MessageHandlingServer):
    """Serves a target's requests: listen, dispatch on an executor, reply.

    ``wait()`` returns once the requests in progress have finished and
    their replies are sent.
    """

    def __init__(self, transport, target, dispatcher, executor=None, ack_mode=None):
        self.target = target
        ack_mode = ack_mode or transport.conf.rpc_ack_mode
        if ack_mode not in ACK_MODES:
            raise ValueError(f"ack_mode must be one of {', '.join(ACK_MODES)}, not {ack_mode!r}")
        self.ack_mode = ack_mode
        self._ack_casts_after = ack_mode == "after_processing"
        # Received and not started; guarded by _work_lock.
        self._waiting = set()
        self._running_count = 0
        self._work_lock = threading.Lock()
        self._counters = {"received": 0, "returned": 0, "max_waiting": 0, "max_held": 0}
        super().__init__(transport, dispatcher, executor)
        # Its waiting and running requests are the topic's backlog and in-flight gauges.
        tracking.add_server(self)

    def _create_listener(self):
        return self.transport._listen(self.target)

    def stats(self):
        """Counters: received, waiting (not started), running, returned, max_waiting, max_held."""
        with self._work_lock:
            stats = dict(self._counters)
            stats["waiting"] = len(self._waiting)
            stats["running"] = self._running_count
        return stats

    def _stopped_consuming(self):
        # What no executor thread has started goes back to the broker now, for another
        # server: waiting for a free thread could outlast the shutdown timeout.
        with self._work_lock:
            waiting, self._waiting = self._waiting, set()
            self._counters["returned"] += len(waiting)
        for work in waiting:
            try:
                work.incoming.requeue()
            except Exception:  # noqa: BLE001 - the connection is gone: the broker requeues it
                LOG.debug("Could not requeue a message", exc_info=True)
        if waiting:
            LOG.info(
                "Gave %d message(s) that had not been started back to the broker (%s)",
                len(waiting),
                self.target,
            )

    def _on_incoming(self, incoming):
        # Runs in the listener's thread: nothing may escape from here.
        work = _Work(incoming)
        with self._work_lock:
            self._waiting.add(work)
            counters = self._counters
            counters["received"] += 1
            waiting = len(self._waiting)
            if waiting > counters["max_waiting"]:
                counters["max_waiting"] = waiting
            if waiting + self._running_count > counters["max_held"]:
                counters["max_held"] = waiting + self._running_count
        tracking.received()
        try:
            self._executor.submit(self._run, work)
        except Exception:
            with self._work_lock:
                self._waiting.discard(work)
            LOG.warning(
                "Cannot run RPC method %s: the server is shutting down; giving it back",
                _method_name(incoming),
            )
            incoming.requeue()

    def _run(self, work):
        with self._work_lock:
            if work not in self._waiting:
                return  # given back to the broker by stop()
            self._waiting.discard(work)
            self._running_count += 1
        incoming = work.incoming
        if not incoming.claim():
            with self._work_lock:
                self._running_count -= 1
            LOG.debug("Skipped a message received before a reconnect: it is delivered again")
            return
        try:
            if not (self._ack_casts_after and not incoming.is_call):
                incoming.acknowledge()
            self._process(incoming)
        finally:
            # After processing (or if acking at start failed): an exception
            # is a result too, never a redelivery.
            incoming.acknowledge()
            with self._work_lock:
                self._running_count -= 1

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
                _log_rejected(exc)
        except Exception as exc:
            failure = sys.exc_info()
            if getattr(exc, "caller_error", False):
                outcome = "rejected"
                _log_rejected(exc)
            else:
                outcome = "error"
                LOG.exception(
                    "Exception during message handling of RPC method %s", _method_name(incoming)
                )
        tracking.finish(request, outcome, known_method, slow)
        if not incoming.is_call:
            return
        if failure is not None and not self.conf.rpc_send_tracebacks:
            # Class, module and message only: the frames stay in this log.
            failure = (failure[0], failure[1], None)
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
        return f"<RPCServer {self.target!r} executor={self.executor_type} ack_mode={self.ack_mode}>"


def _log_rejected(exc):
    _REJECTED.warning(type(exc), "Rejected an RPC request: %s", shorten(exc))
    LOG.debug("Rejected RPC request", exc_info=True)


def _method_name(incoming):
    message = incoming.message
    if isinstance(message, dict):
        return shorten(repr(message.get("method")))
    return "(not an RPC message)"


def get_rpc_server(
    transport,
    target,
    endpoints,
    executor=None,
    serializer=None,
    access_policy=None,
    server_cls=RPCServer,
    ack_mode=None,
):
    """A ``server_cls`` (RPCServer) for ``target`` dispatching to ``endpoints`` (tried in order).

    ``executor`` None means the default, ``threading``.  ``ack_mode``
    ('after_processing' or 'on_receipt') overrides ``[DEFAULT] rpc_ack_mode``
    for this server's casts.
    """
    # The ping endpoint is opt-in per configuration, as in oslo.messaging.
    dispatcher = RPCDispatcher(
        endpoints,
        serializer,
        access_policy,
        ping_enabled=transport.conf.rpc_ping_enabled,
    )
    if ack_mode is None:
        return server_cls(transport, target, dispatcher, executor)
    return server_cls(transport, target, dispatcher, executor, ack_mode)
