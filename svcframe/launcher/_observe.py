"""What a launcher tells the outside: /metrics, /healthz and /readyz.

With ``[metrics] port`` set, the launching process (the master, or the
only process with one worker) listens there; otherwise nothing here does
anything.  Workers write their metrics to ``prometheus_client``
multiprocess files in a directory the master owns (wiped at start, private
to the service's user); ``/metrics`` adds them up with what only the
launcher knows: worker states and build information.
"""

import importlib.metadata
import json
import logging
import os
import selectors
import shutil
import threading
import time

from svcframe import components, metrics
from svcframe.conf import metrics as metrics_opts
from svcframe.launcher._http import HTTPServer, Response

__all__ = ["MasterObserver", "MetricsListenError", "SingleObserver", "restart_reason"]

LOG = logging.getLogger("svcframe.launcher")

_TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


class MetricsListenError(Exception):
    """The [metrics] listener cannot be opened (the port is taken, the address unknown)."""


def _version():
    try:
        return importlib.metadata.version("svcframe")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def restart_reason(worker, code):
    """Why the master replaces ``worker``, which exited with ``code``."""
    if worker.retiring:
        return "reload"
    if worker.killed == "hung":
        return "hung"
    return "signal" if code < 0 else "exit"


def _component(service, name):
    return components.component_name(getattr(service, "binary", None) or name)


def _prepare_directory(path):
    # Files of a previous run would add their pids' counts to ours.
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    os.mkdir(path, mode=0o700)
    os.chmod(path, 0o700)


class _LauncherCollector:
    """The metrics only the launcher knows, computed at each scrape."""

    def __init__(self, view, component):
        self._view = view
        self._component = component
        self._version = _version()

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        workers = GaugeMetricFamily(
            "svcframe_workers", "Worker processes, by state.", labels=["state"]
        )
        for state, count in self._view.states().items():
            workers.add_metric([state], count)
        yield workers
        info = GaugeMetricFamily(
            "svcframe_build_info",
            "Always 1: the svcframe version and the component this service runs.",
            labels=["version", "component"],
        )
        info.add_metric([self._version, self._component], 1)
        yield info


class _Observer:
    """The listener and the metrics directory; inert when no port is set."""

    def __init__(self, conf, name, component, view):
        metrics_opts.register_opts(conf)
        self.server = None
        self._view = view
        port = conf.metrics.port
        if port is None:
            return
        # Bind first: a port in use must not cost a running twin its files.
        routes = {"/metrics": self._metrics, "/healthz": self._healthz, "/readyz": self._readyz}
        try:
            self.server = HTTPServer(conf.metrics.host, port, routes)
        except OSError as exc:
            raise MetricsListenError(
                f"cannot listen on [metrics] {conf.metrics.host}:{port}: {exc.strerror or exc}"
            ) from exc
        directory = os.path.join(conf.state_path, "metrics", f"{name}-{port}")
        _prepare_directory(directory)
        metrics.enable(directory)
        from prometheus_client import CollectorRegistry, multiprocess

        self._registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(self._registry, path=directory)
        self._registry.register(_LauncherCollector(view, component))
        host, port = self.server.address
        LOG.info("Serving /metrics, /healthz and /readyz on http://%s:%d", host, port)

    def _metrics(self):
        from prometheus_client import generate_latest

        return Response(200, generate_latest(self._registry), _TEXT_FORMAT)

    @staticmethod
    def _json(ok, reason):
        body = json.dumps({"status": "ok" if ok else "unavailable", "reason": reason}) + "\n"
        return Response(200 if ok else 503, body, "application/json")

    def _healthz(self):
        return self._json(*self._view.liveness())

    def _readyz(self):
        return self._json(*self._view.readiness())


class _MasterView:
    """Worker states as a ProcessLauncher sees them."""

    def __init__(self, master):
        self._master = master

    def _hung(self, worker, now):
        hang = self._master.conf.launcher.worker_hang_timeout
        return worker.killed == "hung" or (not worker.killed and now - worker.last_seen > hang)

    def states(self):
        now = time.monotonic()
        counts = dict.fromkeys(("ready", "starting", "hung"), 0)
        for worker in self._master._workers.values():
            if self._hung(worker, now):
                counts["hung"] += 1
            elif worker.killed or worker.terminated_at is not None:
                continue
            elif worker.ready:
                counts["ready"] += 1
            else:
                counts["starting"] += 1
        return counts

    def liveness(self):
        hung = self.states()["hung"]
        if hung:
            return False, f"{hung} worker(s) hung"
        return True, "alive"

    def readiness(self):
        master = self._master
        if master._stopping:
            return False, "stopping"
        # The condition under which the master tells systemd READY=1.
        ready, total = master._ready_count(), master._total
        if ready < total:
            return False, f"{ready}/{total} workers ready"
        return True, f"{ready}/{total} workers ready"


class MasterObserver(_Observer):
    """The master's listener, served from the master's own selector loop."""

    def __init__(self, master, selector):
        component = _component(master._service, master._name)
        super().__init__(master.conf, master._name, component, _MasterView(master))
        if self.server is not None:
            self.server.register(selector)

    def tick(self):
        if self.server is not None:
            self.server.expire()

    def next_deadline(self):
        """When tick() has something to do next (monotonic time), None for nothing."""
        return self.server.next_deadline() if self.server is not None else None

    def worker_exited(self, worker, code, stopping):
        """Forget a dead worker's live gauges; count the restart it causes."""
        if self.server is None:
            return
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, metrics.multiprocess_dir())
        if not stopping:
            metrics.record_worker_restart(restart_reason(worker, code))

    def forget(self):
        """In a forked worker: drop the master's sockets."""
        if self.server is not None:
            self.server.forget()

    def close(self):
        if self.server is not None:
            self.server.close()


class _SingleView:
    def __init__(self, runner):
        self._runner = runner

    def states(self):
        runner = self._runner
        if runner.stopping:
            return {"ready": 0, "starting": 0, "hung": 0}
        ready = getattr(runner, "ready", False)
        return {"ready": int(ready), "starting": int(not ready), "hung": 0}

    def liveness(self):
        return True, "alive"

    def readiness(self):
        if self._runner.stopping:
            return False, "stopping"
        if not getattr(self._runner, "ready", False):
            return False, "starting"
        return True, "ready"


class SingleObserver(_Observer):
    """The listener of a one-process service, on a thread of its own.

    A thread is fine here: this process never forks.
    """

    def __init__(self, conf, name, service, runner):
        super().__init__(conf, name, _component(service, name), _SingleView(runner))
        self._stop = threading.Event()
        if self.server is not None:
            threading.Thread(target=self._serve, name="svcframe-metrics", daemon=True).start()

    def _serve(self):
        with selectors.DefaultSelector() as selector:
            self.server.register(selector)
            while not self._stop.is_set():
                for key, events in selector.select(1.0):
                    key.data(key.fileobj, events)
                self.server.expire()
            self.server.close()

    def close(self):
        self._stop.set()
