"""Prometheus metrics of a service, aggregated across its worker processes.

Off until :func:`enable` is called (the launcher does, when ``[metrics]
port`` is set): every ``record_*`` function then returns at its first line,
and ``prometheus_client`` is not even imported.  Once enabled, values live
in ``prometheus_client``'s multiprocess files, one set per process, in the
directory the launcher owns; the launcher's listener adds them up.

Metric objects are built on first use in each process, after the fork:
a gauge built in the master would add the master's own (meaningless)
value to what the workers report.

Label values come from the code (topics, method names the dispatcher
found, fixed reasons), never from what a peer sent: an unknown method is
counted as :data:`UNKNOWN`.

Request threads never write the files themselves: a request's figures go
into a queue (a few hundred nanoseconds, and no thread to wake) and one
writer thread per process writes what accumulated every
:data:`WRITE_INTERVAL` (20 ms).  Writing per request cost a fifth more CPU
per cast on a busy server: contention on prometheus_client's lock (one per
process) and thread wake-ups.  The same thread samples the backlog and
in-flight gauges once a second: four more writes per request would cost
more than the counts themselves.  A worker killed with SIGKILL loses the
last 20 ms of figures; one that exits drains the queue first (:func:`flush`).
"""

import atexit
import functools
import importlib
import logging
import os
import queue
import threading
import time

from svcframe._per_process import PerProcessThread

__all__ = [
    "UNKNOWN",
    "enable",
    "enabled",
    "flush",
    "multiprocess_dir",
    "record_broker_connected",
    "record_client_request",
    "record_heartbeat",
    "record_malformed",
    "record_periodic_task",
    "record_server_request",
    "record_worker_restart",
    "sample_rpc_gauges",
    "set_rpc_gauge_source",
]

LOG = logging.getLogger(__name__)

#: The method label of a request for a method no endpoint has.
UNKNOWN = "<unknown>"

# Seconds: from a fast local call to the default rpc_response_timeout.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

_directory = None
_lock = threading.Lock()
_rpc = None
_broker = None
_process = None
_gauge_source = None
_pending = queue.SimpleQueue()
# Held by the writer while it writes a batch.
_writing = threading.Lock()
# Seconds between two writes of the queued figures.
WRITE_INTERVAL = 0.02
# Seconds between two samples of the RPC gauges.
SAMPLE_INTERVAL = 1.0


def enable(directory):
    """Record metrics from now on, in ``directory`` (shared by every worker).

    Must be called before the workers are forked: they inherit the setting
    through ``PROMETHEUS_MULTIPROC_DIR``.
    """
    global _directory
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values = importlib.import_module("prometheus_client.values")
    # prometheus_client picks its value class when first imported: if
    # something imported it before the variable was set, pick again.
    values.ValueClass = values.get_value_class()
    _directory = directory


def enabled():
    return _directory is not None


def multiprocess_dir():
    """The directory of the multiprocess files; None while metrics are off."""
    return _directory


def set_rpc_gauge_source(source):
    """``source()`` returns ``{topic: (backlog, in_flight)}`` for this process."""
    global _gauge_source
    _gauge_source = source


class _RPCMetrics:
    def __init__(self, pc):
        # labels() takes a lock and builds a key each time: keep the children.
        self.children = {}
        self.server_requests = pc.Counter(
            "svcframe_rpc_server_requests",
            "RPC requests handled by servers, by outcome.",
            ["topic", "method", "kind", "outcome"],
        )
        self.server_duration = pc.Histogram(
            "svcframe_rpc_server_duration_seconds",
            "Time servers spent running RPC requests.",
            ["topic", "method"],
            buckets=_LATENCY_BUCKETS,
        )
        self.client_requests = pc.Counter(
            "svcframe_rpc_client_requests",
            "RPC requests sent by clients, by outcome.",
            ["topic", "method", "kind", "outcome"],
        )
        self.client_duration = pc.Histogram(
            "svcframe_rpc_client_duration_seconds",
            "Time clients spent sending requests and waiting for replies.",
            ["topic", "method"],
            buckets=_LATENCY_BUCKETS,
        )
        self.in_flight = pc.Gauge(
            "svcframe_rpc_in_flight",
            "RPC requests running now.",
            ["topic"],
            multiprocess_mode="livesum",
        )
        self.backlog = pc.Gauge(
            "svcframe_rpc_backlog",
            "RPC requests received and waiting for an executor thread.",
            ["topic"],
            multiprocess_mode="livesum",
        )
        self.malformed = pc.Counter(
            "svcframe_messages_malformed",
            "Messages dropped because they could not be read.",
            ["reason"],
        )


class _BrokerMetrics:
    def __init__(self, pc):
        self.reconnects = pc.Counter(
            "svcframe_broker_reconnects", "Connections to the broker made again after a loss."
        )
        # livemin: 0 as soon as one live worker lost its connection.
        self.connected = pc.Gauge(
            "svcframe_broker_connected",
            "1 when every worker is connected to the broker.",
            multiprocess_mode="livemin",
        )


class _ProcessMetrics:
    def __init__(self, pc):
        self.restarts = pc.Counter(
            "svcframe_worker_restarts",
            "Worker processes replaced, by reason.",
            ["reason"],
        )
        self.periodic_runs = pc.Counter(
            "svcframe_periodic_task_runs",
            "Periodic task runs, by outcome.",
            ["task", "outcome"],
        )
        self.periodic_duration = pc.Histogram(
            "svcframe_periodic_task_duration_seconds",
            "Time periodic tasks ran.",
            ["task"],
            buckets=_LATENCY_BUCKETS,
        )
        self.heartbeats = pc.Counter(
            "svcframe_servicegroup_heartbeats",
            "Service registry heartbeats, by outcome.",
            ["outcome"],
        )


def _build(kind):
    global _rpc, _broker, _process
    with _lock:
        pc = importlib.import_module("prometheus_client")
        if kind is _RPCMetrics and _rpc is None:
            _rpc = _RPCMetrics(pc)
        elif kind is _BrokerMetrics and _broker is None:
            _broker = _BrokerMetrics(pc)
        elif kind is _ProcessMetrics and _process is None:
            _process = _ProcessMetrics(pc)
    return _rpc if kind is _RPCMetrics else _broker if kind is _BrokerMetrics else _process


def _rpc_metrics():
    return _rpc or _build(_RPCMetrics)


_failures = 0


def _failed():
    """A metric could not be written: say so once; the request goes on regardless."""
    global _failures
    _failures += 1
    if _failures == 1:
        LOG.exception("Could not record a metric; metrics may be incomplete from now on")


def _child(m, metric, values):
    key = (metric, values)
    child = m.children.get(key)
    if child is None:
        child = m.children[key] = getattr(m, metric).labels(*values)
    return child


def sample_rpc_gauges():
    """Make sure this process samples its RPC gauges (a server started a request)."""
    if _directory is not None:
        _ensure_writer()


def _ensure_writer():
    # Started on first use in each process: never in the master, which
    # must not have a thread when it forks.
    if _writer.ensure():
        atexit.register(flush)


def _write_forever():
    # Wakes on a clock, not per request: a put() then wakes no thread, and
    # each wake writes everything queued since the last one.
    m = _rpc_metrics()
    next_sample = time.monotonic()
    while True:
        time.sleep(WRITE_INTERVAL)
        with _writing:
            try:
                while True:
                    try:
                        item = _pending.get_nowait()
                    except queue.Empty:
                        break
                    item[0](m, *item[1:])
                if time.monotonic() >= next_sample:
                    next_sample = time.monotonic() + SAMPLE_INTERVAL
                    _sample(m)
            except Exception:
                # A full disk, say: figures go missing, requests are not affected.
                _failed()


def _sample(m):
    source = _gauge_source
    if source is not None:
        for topic, (backlog, in_flight) in source().items():
            _child(m, "backlog", (topic,)).set(backlog)
            _child(m, "in_flight", (topic,)).set(in_flight)


def flush(timeout=1.0):
    """Wait (up to ``timeout`` seconds) until the queued figures are written."""
    if not _writer.running_here():
        return
    deadline = time.monotonic() + timeout
    while not _pending.empty() and time.monotonic() < deadline:
        time.sleep(0.005)
    # The writer may still be writing the last batch it took.
    if _writing.acquire(timeout=max(0.0, deadline - time.monotonic())):
        _writing.release()


def _write_requests(m, side, topic, method, kind, outcome, seconds):
    _child(m, side + "_requests", (topic, method, kind, outcome)).inc()
    _child(m, side + "_duration", (topic, method)).observe(seconds)


def _queue_requests(side, topic, method, kind, outcome, seconds):
    # Per request: queued for the writer thread, never written inline.
    _ensure_writer()
    _pending.put((_write_requests, side, topic, method, kind, outcome, seconds))


def record_server_request(topic, method, kind, outcome, seconds):
    """A request a server ran: ``kind`` call|cast|fanout, ``outcome`` ok|error|rejected."""
    # Tested here, on every request's path: with metrics off, one test and no call.
    if _directory is not None:
        _queue_requests("server", topic, method, kind, outcome, seconds)


def record_client_request(topic, method, kind, outcome, seconds):
    """A request a client sent: ``outcome`` ok|timeout|error|undeliverable."""
    if _directory is not None:
        _queue_requests("client", topic, method, kind, outcome, seconds)


def _recorder(record):
    """``record`` called only while metrics are on, and never raising: a figure is not worth it."""

    @functools.wraps(record)
    def recorder(*args, **kwargs):
        if _directory is None:
            return
        try:
            record(*args, **kwargs)
        except Exception:
            _failed()

    return recorder


@_recorder
def record_malformed(reason):
    """A message dropped unread; ``reason`` is a fixed name from the code."""
    _rpc_metrics().malformed.labels(reason).inc()


@_recorder
def record_broker_connected(connected, reconnect=False):
    m = _broker or _build(_BrokerMetrics)
    m.connected.set(1 if connected else 0)
    if reconnect:
        m.reconnects.inc()


@_recorder
def record_worker_restart(reason):
    """The master replaces a worker: ``reason`` exit|signal|hung|reload."""
    (_process or _build(_ProcessMetrics)).restarts.labels(reason).inc()


@_recorder
def record_periodic_task(task, outcome, seconds):
    m = _process or _build(_ProcessMetrics)
    m.periodic_runs.labels(task, outcome).inc()
    m.periodic_duration.labels(task).observe(seconds)


@_recorder
def record_heartbeat(outcome):
    (_process or _build(_ProcessMetrics)).heartbeats.labels(outcome).inc()


_writer = PerProcessThread(_write_forever, "svcframe-metrics-writer")
