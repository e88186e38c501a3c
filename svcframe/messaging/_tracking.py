"""The RPC requests of this process: in flight, counted and timed.

Servers and clients report each request here; this module keeps the ones
running (for the SIGUSR2 report), feeds the metrics, and logs requests
slower than ``rpc_slow_call_threshold``.  Registering a request is a dict
insert: it is always on, metrics or not.

A server request is logged once: by a watcher thread as soon as it has
run longer than the threshold (a request that never ends is seen too), or
when it ends, if it crossed the threshold between two looks.
"""

import itertools
import logging
import time
import weakref

from svcframe import metrics
from svcframe._per_process import PerProcessThread
from svcframe.messaging import exceptions

__all__ = [
    "ServerRequest",
    "add_server",
    "client_outcome",
    "finish",
    "gauges",
    "in_flight",
    "received",
    "record_client",
    "servers",
    "start",
]

LOG = logging.getLogger("svcframe.messaging.slow")

_ids = itertools.count()
# Requests running in this process; plain dict operations are atomic.
_running = {}
#: The RPC servers of this process: their gauges, and reports on their executors.
servers = weakref.WeakSet()
# Every topic a server of this process served: its gauges drop to 0, not vanish.
_topics = set()
# Longest time between two looks at the requests in flight.
WATCH_INTERVAL = 1.0


class ServerRequest:
    """A request a server is running."""

    __slots__ = (
        "key",
        "topic",
        "method",
        "kind",
        "request_id",
        "started",
        "slow_threshold",
        "logged",
    )

    def __init__(self, topic, incoming, slow_threshold=0):
        self.key = next(_ids)
        self.topic = topic
        message = incoming.message
        method = message.get("method") if isinstance(message, dict) else None
        # Shown in reports and logs only, never a metric label.
        if isinstance(method, str):
            method = method[:100]
            self.method = method if method.isprintable() else repr(method)
        else:
            self.method = metrics.UNKNOWN
        if incoming.is_call:
            self.kind = "call"
        else:
            self.kind = "fanout" if getattr(incoming, "fanout", False) else "cast"
        ctxt = incoming.ctxt
        self.request_id = ctxt.get("request_id") if isinstance(ctxt, dict) else None
        self.started = time.monotonic()
        self.slow_threshold = slow_threshold
        self.logged = False

    def age(self):
        return time.monotonic() - self.started


def add_server(server):
    """``server`` (an RPCServer) counts in this process's gauges from now on."""
    servers.add(server)
    _topics.add(server.target.topic)


def received():
    """A server received a request: this process samples its gauges."""
    metrics.sample_rpc_gauges()


def start(topic, incoming, slow_threshold=0):
    """A server starts running a request."""
    request = ServerRequest(topic, incoming, slow_threshold)
    _running[request.key] = request
    if slow_threshold:
        _watcher.ensure()
    return request


def _watch():
    while True:
        now = time.monotonic()
        for request in list(_running.values()):
            threshold = request.slow_threshold
            if threshold and not request.logged and now - request.started > threshold:
                request.logged = True
                LOG.warning(
                    "Slow RPC request: %s %s.%s (request %s) still running after %.1f s",
                    request.kind,
                    request.topic,
                    request.method,
                    request.request_id,
                    now - request.started,
                )
        time.sleep(WATCH_INTERVAL)


def gauges():
    """``{topic: (backlog, in_flight)}`` of this process now.

    The backlog is what the servers received and no executor thread has started
    yet (at most the prefetch); in flight is what their executor threads run.
    """
    values = {topic: [0, 0] for topic in list(_topics)}
    for server in list(servers):
        stats = server.stats()
        pair = values.setdefault(server.target.topic, [0, 0])
        pair[0] += stats["waiting"]
        pair[1] += stats["running"]
    return {topic: tuple(pair) for topic, pair in values.items()}


metrics.set_rpc_gauge_source(gauges)


def finish(request, outcome, known_method, slow_threshold):
    """The request is done: ``outcome`` ok|error|rejected.

    ``known_method``: the dispatcher found the method, so its name is a
    safe label; otherwise it is counted as ``<unknown>``.
    """
    _running.pop(request.key, None)
    seconds = time.monotonic() - request.started
    method = request.method if known_method else metrics.UNKNOWN
    metrics.record_server_request(request.topic, method, request.kind, outcome, seconds)
    if slow_threshold and seconds > slow_threshold and not request.logged:
        request.logged = True
        LOG.warning(
            "Slow RPC request: %s %s.%s (request %s) ran %.1f s",
            request.kind,
            request.topic,
            request.method,
            request.request_id,
            seconds,
        )


def in_flight():
    """The requests running in this process now, oldest first."""
    return sorted(_running.values(), key=lambda r: r.started)


def client_outcome(exc):
    """The client outcome label of a request that raised ``exc`` (None: it did not)."""
    if exc is None:
        return "ok"
    if isinstance(exc, exceptions.MessagingTimeout):
        return "timeout"
    if isinstance(exc, exceptions.MessageDeliveryFailure):
        return "undeliverable"
    return "error"


def record_client(topic, method, kind, outcome, started, slow_threshold, ctxt=None):
    """A client request ended with ``outcome`` (see :func:`client_outcome`)."""
    seconds = time.monotonic() - started
    metrics.record_client_request(topic, method, kind, outcome, seconds)
    if slow_threshold and seconds > slow_threshold and kind == "call":
        request_id = getattr(ctxt, "request_id", None)
        if request_id is None and isinstance(ctxt, dict):
            request_id = ctxt.get("request_id")
        LOG.warning(
            "Slow RPC call: %s.%s (request %s) waited %.1f s for its reply",
            topic,
            method,
            request_id,
            seconds,
        )


# The slow-request watcher: one per process (a forked child starts its own).
_watcher = PerProcessThread(_watch, "rpc-slow-watcher")
