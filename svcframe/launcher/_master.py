"""ProcessLauncher: a master process that forks, watches and replaces workers.

The master runs one loop on its main thread, the shape of gunicorn's
arbiter: wait (for a signal, a worker message or the next deadline), handle
the signals, reap the dead, kill the hung, then fork what is missing.  It
opens no broker connection and starts no thread, so every fork copies a
single-threaded process; the metrics and health listener, when configured,
is one more non-blocking socket in the same loop (see ``_http``).
"""

import gc
import logging
import os
import selectors
import signal
import time

from svcframe import log, systemd
from svcframe.launcher import _channel, _config, _generation, _proctitle, _report, _worker
from svcframe.launcher._backoff import RespawnBackoff
from svcframe.launcher._base import EXIT_BOOT_ERROR, EXIT_FAILURE, EXIT_SUCCESS, Launcher
from svcframe.launcher._observe import MasterObserver
from svcframe.launcher._signals import SignalManager, blocked, signal_name

__all__ = ["ProcessLauncher"]

LOG = logging.getLogger("svcframe.launcher")

_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD, _report.SIGNAL)
# Deadlines wake the loop anyway; this only bounds the damage of a missed one.
# Every wake of an idle master costs CPU: not more often than heartbeats come.
_MAX_SLEEP = 5.0


class _Worker:
    """The master's view of one worker process."""

    def __init__(self, number, pid, fd, generation):
        self.number = number
        self.pid = pid
        self.fd = fd
        # The configuration generation the worker was forked with, and the
        # one it runs (newer once it applied a SIGHUP).
        self.started_in = self.generation = generation
        # Runs another configuration than the master's for its generation
        # (it could not apply the files, or read different ones): replaced.
        self.outdated = False
        self.started_at = self.last_seen = time.monotonic()
        self.reader = _channel.Reader()
        self.ready = False
        self.boot_error = None
        # Replaced by a newer worker with the same number; stopped once that
        # one is ready, never respawned.
        self.retiring = False
        self.terminated_at = None
        self.killed = None
        self.reset_pending = False

    def __str__(self):
        return f"{self.number} (pid {self.pid})"


class ProcessLauncher(Launcher):
    """Run a service in N forked worker processes under this process.

    :param conf: the parsed ``ConfigOpts``; [DEFAULT] and [launcher] service
        options are registered on it if needed.
    :param restart_method: on SIGHUP, ``'mutate'`` applies mutable options in
        place (``reset()`` in every worker) and restarts the workers one at a
        time only when another option changed; ``'reload'`` always restarts
        them one at a time.
    :param name: the program name in process titles; see ``launch()``.

    A worker that dies before reporting ready counts as a boot failure,
    during a rolling restart too: ``boot_failure_limit`` of them in a row
    stop the launcher, since a configuration no worker can start with will
    not get better by retrying.
    """

    def _check_workers(self, workers):
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"'workers' must be an int >= 1, not: {workers!r}")

    def wait(self):
        """Run the workers until SIGTERM or SIGINT; return the exit status.

        0: every worker stopped gracefully.  1: some were killed (after
        ``graceful_shutdown_timeout``, or on a second SIGINT).  3:
        ``boot_failure_limit`` workers in a row failed to start.
        """
        if self._service is None:
            raise RuntimeError("launch_service() must be called before wait()")
        self._setup()
        try:
            while not (self._stopping and not self._workers):
                self._loop_once()
        finally:
            self._teardown()
        LOG.info("All workers stopped, exiting with status %d", self._status)
        return self._status

    def _setup(self):
        now = time.monotonic()
        self._signals = SignalManager(_SIGNALS)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._signals.fileno(), selectors.EVENT_READ)
        self._observer = MasterObserver(self, self._selector)
        self._lifeline_r, self._lifeline_w = os.pipe2(os.O_CLOEXEC)
        self._workers = {}
        self._respawn_at = dict.fromkeys(range(1, self._total + 1), now)
        self._backoff = {n: RespawnBackoff(self.conf.launcher) for n in self._respawn_at}
        self._generation = 0
        # Workers forked before this generation are replaced one at a time.
        self._roll_generation = 0
        self._option_keys = _config.option_keys(self.conf)
        self._digest = _config.digest(self.conf, self._option_keys)
        self._board = _generation.Board()
        self._board.publish(self._generation, 0, self._total)
        self._boot_failures = 0
        self._last_boot_error = None
        self._ever_ready = False
        self._reloading = False
        self._stopping = False
        self._kill_at = None
        self._status = EXIT_SUCCESS
        self._last_status = None
        self._watchdog_interval = systemd.watchdog_interval()
        self._next_watchdog = now
        log.set_worker_tag("master")
        self._show_config()
        _config.log_options(self.conf)
        # Objects of the master that no worker frees stay out of the children's
        # collections, so their pages stay shared.
        gc.freeze()
        LOG.info("Starting %d workers", self._total)

    def _teardown(self):
        for worker in self._workers.values():
            self._kill(worker, "master exiting")
        self._observer.close()
        self._selector.close()
        self._signals.close()
        os.close(self._lifeline_r)
        os.close(self._lifeline_w)
        self._board.close()
        _generation.set_running(None, None)

    def _loop_once(self):
        for key, events in self._selector.select(self._sleep_time()):
            if callable(key.data):
                key.data(key.fileobj, events)
            elif key.data is not None:
                self._read(key.data)
        for signum in self._signals.read():
            self._handle_signal(signum)
        self._reap()
        if self._stopping:
            self._enforce_shutdown_timeout()
        else:
            self._murder_hung()
            self._manage_workers()
        self._report()
        self._observer.tick()

    def _sleep_time(self):
        now = time.monotonic()
        deadlines = [now + _MAX_SLEEP, *self._respawn_at.values()]
        if self._watchdog_interval:
            deadlines.append(self._next_watchdog)
        if self._kill_at is not None:
            deadlines.append(self._kill_at)
        observer_deadline = self._observer.next_deadline()
        if observer_deadline is not None:
            deadlines.append(observer_deadline)
        if not self._stopping:
            hang = self.conf.launcher.worker_hang_timeout
            deadlines.extend(w.last_seen + hang for w in self._workers.values() if not w.killed)
        return max(0.0, min(deadlines) - now)

    # Signals

    def _handle_signal(self, signum):
        if signum in (signal.SIGTERM, signal.SIGINT):
            if not self._stopping:
                LOG.info("Caught %s, stopping workers", signal_name(signum))
                self._begin_shutdown(EXIT_SUCCESS)
            elif signum == signal.SIGINT:
                LOG.warning("Caught SIGINT again, killing workers")
                for worker in self._workers.values():
                    self._kill(worker, "forced")
                self._status = max(self._status, EXIT_FAILURE)
        elif signum == _report.SIGNAL:
            _report.forward(self._workers)
        elif signum == signal.SIGHUP:
            if self._stopping:
                LOG.info("Caught SIGHUP while stopping, ignoring it")
            else:
                self._reload()

    def _signal_pending_stop(self):
        """Handle signals that arrived since the loop's wait; True if stopping.

        Called right before a fork: no worker is forked after SIGTERM.
        """
        for signum in self._signals.read():
            self._handle_signal(signum)
        return self._stopping

    def _begin_shutdown(self, status):
        self._stopping = True
        self._status = max(self._status, status)
        self._respawn_at.clear()
        systemd.notify_stopping("stopping")
        for worker in self._workers.values():
            self._terminate(worker)
        timeout = self.conf.graceful_shutdown_timeout
        self._kill_at = time.monotonic() + timeout if timeout else None

    def _enforce_shutdown_timeout(self):
        if self._kill_at is None or time.monotonic() < self._kill_at:
            return
        self._kill_at = None
        left = [w for w in self._workers.values() if not w.killed]
        if left:
            LOG.error(
                "Graceful shutdown timeout (%s s) exceeded, killing %s",
                self.conf.graceful_shutdown_timeout,
                ", ".join(f"worker {w}" for w in sorted(left, key=lambda w: w.number)),
            )
            for worker in left:
                self._kill(worker, "shutdown timeout")
            self._status = max(self._status, EXIT_FAILURE)

    def _config_label(self):
        return f"{self._generation} ({self._digest})"

    def _show_config(self):
        _generation.set_running(self._generation, self._digest)
        _proctitle.set_master_title(self._name, self._total, self._generation, self._digest)

    def _reload(self):
        LOG.info("Caught SIGHUP, reloading the configuration")
        systemd.notify_reloading("reloading")
        self._reloading = True
        try:
            changes = _config.reload(self.conf)
        except _config.ReloadFailed as exc:
            failure = str(exc)
        else:
            failure = None
        if failure is not None:
            # Logged out of the except block: oslo.log would append the exception.
            # Every worker forked from now on gets this configuration too.
            LOG.error("Reload failed, keeping configuration %s: %s", self._config_label(), failure)
            return
        roll = changes.immutable or self.restart_method == "reload"
        if not roll and not changes.mutable:
            LOG.info("Configuration unchanged")
            return
        self._generation += 1
        self._digest = _config.digest(self.conf, self._option_keys)
        # Published before any worker is signalled or forked: see Board.
        self._board.publish(self._generation, 0, self._total)
        self._show_config()
        # The workers forked from now on inherit the master's logging.
        log.reapply(self.conf)
        if roll:
            LOG.info(
                "Restarting workers one at a time: %s",
                f"options that need a restart changed: {changes.describe(changes.immutable)}"
                if changes.immutable
                else "restart_method is 'reload'",
            )
            self._roll_generation = self._generation
        else:
            LOG.info(
                "Mutable options changed, applying them in every worker: %s",
                changes.describe(changes.mutable),
            )
            for worker in self._workers.values():
                if not worker.retiring:
                    worker.reset_pending = True
                    self._signal(worker, signal.SIGHUP)

    # Workers

    def _spawn(self, number):
        rfd, wfd = os.pipe2(os.O_CLOEXEC)
        spec = _worker.WorkerSpec(
            number,
            self._total,
            self._name,
            wfd,
            self._lifeline_r,
            os.getpid(),
            generation=self._generation,
            option_keys=self._option_keys,
            board=self._board,
        )
        with blocked(_SIGNALS):
            pid = os.fork()
            if pid == 0:
                self._forget_master(rfd)
                _worker.main(self.conf, self._service, spec, _SIGNALS)
        os.close(wfd)
        os.set_blocking(rfd, False)
        worker = _Worker(number, pid, rfd, self._generation)
        self._workers[pid] = worker
        self._selector.register(rfd, selectors.EVENT_READ, worker)
        LOG.info("Started worker %d of %d (pid %d)", number, self._total, pid)
        return worker

    def _forget_master(self, rfd):
        """In a new child: drop what belongs to the master."""
        os.close(rfd)
        for worker in self._workers.values():
            if worker.fd is not None:
                os.close(worker.fd)
        self._observer.forget()
        self._selector.close()
        self._signals.close()
        os.close(self._lifeline_w)

    def _read(self, worker):
        try:
            data = os.read(worker.fd, 4096)
        except BlockingIOError:
            return
        if not data:
            self._close_channel(worker)
            return
        worker.last_seen = time.monotonic()
        for kind, text in worker.reader.feed(data):
            if kind == _channel.READY:
                worker.ready = True
                self._boot_failures = 0
                self._last_boot_error = None
                LOG.info("Worker %d of %d (pid %d) ready", worker.number, self._total, worker.pid)
            elif kind == _channel.RESET:
                self._on_reset(worker, text)
            elif kind == _channel.BOOT_ERROR:
                worker.boot_error = text

    def _on_reset(self, worker, text):
        """A worker handled SIGHUP: ``text`` is "ATTEMPTED RUNNING DIGEST"."""
        try:
            attempted, running, digest = text.split()
            attempted, running = int(attempted), int(running)
        except ValueError:
            return
        worker.generation = running
        if attempted < self._generation or not worker.reset_pending:
            return  # the SIGHUP of a later reload is on its way
        worker.reset_pending = False
        if worker.started_in < self._roll_generation:
            return  # the rolling restart replaces it anyway
        if running == self._generation and digest == self._digest:
            LOG.info("Worker %s applied the new configuration", worker)
        else:
            LOG.warning(
                "Worker %s runs configuration %d (%s), not %s: replacing it",
                worker,
                running,
                digest,
                self._config_label(),
            )
            worker.outdated = True

    def _close_channel(self, worker):
        self._selector.unregister(worker.fd)
        os.close(worker.fd)
        worker.fd = None

    def _reap(self):
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self._workers.pop(pid, None)
            if worker is None:
                continue
            if worker.fd is not None:
                # Last words, a boot error in particular, may still be in the pipe.
                self._read(worker)
                if worker.fd is not None:
                    self._close_channel(worker)
            self._on_exit(worker, os.waitstatus_to_exitcode(wait_status))

    def _on_exit(self, worker, code):
        self._observer.worker_exited(worker, code, self._stopping)
        if code >= 0:
            how = f"exited with status {code}"
        else:
            how = f"killed by {signal_name(-code)}"
            if -code == signal.SIGKILL and not worker.killed:
                how += " (perhaps out of memory?)"
        expected = code == EXIT_SUCCESS and (self._stopping or worker.retiring)
        boot_failure = not (self._stopping or worker.retiring or worker.ready or worker.killed)
        # A boot failure gets its own line below.
        (LOG.info if expected else LOG.debug if boot_failure else LOG.warning)(
            "Worker %s %s", worker, how
        )
        if self._stopping or worker.retiring:
            return
        if boot_failure:
            self._boot_failures += 1
            cause = (worker.boot_error or how).rstrip(".")
            # The same cause from every worker is said once; the last line counts them.
            repeated, self._last_boot_error = cause == self._last_boot_error, cause
            (LOG.debug if repeated else LOG.error)(
                "Worker %d of %d (pid %d) failed to boot: %s",
                worker.number,
                self._total,
                worker.pid,
                cause,
            )
            if self._boot_failures >= self.conf.launcher.boot_failure_limit:
                LOG.error(
                    "%d workers in a row failed to boot, the last one with: %s. "
                    "Stopping all workers rather than respawning them again: "
                    "fix the cause and start the service again.",
                    self._boot_failures,
                    cause,
                )
                self._begin_shutdown(EXIT_BOOT_ERROR)
                return
        delay = self._backoff[worker.number].next_delay(time.monotonic() - worker.started_at)
        self._respawn_at[worker.number] = time.monotonic() + delay
        LOG.info("Respawning worker %d in %.1f s", worker.number, delay)

    def _current(self, number):
        """The worker that holds slot ``number``, retiring ones aside."""
        for worker in self._workers.values():
            if worker.number == number and not worker.retiring:
                return worker
        return None

    def _ready_count(self):
        return sum(1 for w in self._workers.values() if w.ready and not w.retiring and not w.killed)

    def _murder_hung(self):
        now = time.monotonic()
        hang = self.conf.launcher.worker_hang_timeout
        grace = self.conf.graceful_shutdown_timeout
        for worker in list(self._workers.values()):
            if worker.killed:
                continue
            silent = now - worker.last_seen
            if silent > hang:
                LOG.error(
                    "Worker %s hung: no heartbeat for %.1f s, killing it",
                    worker,
                    silent,
                )
                self._kill(worker, "hung")
            elif grace and worker.terminated_at and now - worker.terminated_at > grace:
                LOG.error("Worker %s did not stop within %s s, killing it", worker, grace)
                self._kill(worker, "shutdown timeout")

    def _manage_workers(self):
        now = time.monotonic()
        for number, when in sorted(self._respawn_at.items()):
            if self._current(number) is not None:
                del self._respawn_at[number]
                continue
            if when > now:
                continue
            if self._signal_pending_stop():
                return
            del self._respawn_at[number]
            self._spawn(number)
        self._roll()

    def _roll(self):
        """One step of a rolling restart: replace one worker, then stop it."""
        retiring = [w for w in self._workers.values() if w.retiring]
        for worker in retiring:
            successor = self._current(worker.number)
            if worker.terminated_at is None and successor is not None and successor.ready:
                LOG.info("Stopping worker %s, replaced by pid %d", worker, successor.pid)
                self._terminate(worker)
        if retiring or self._ready_count() < self._total:
            return
        old = [w for w in self._workers.values() if self._needs_replacing(w)]
        if not old or self._signal_pending_stop():
            return
        worker = min(old, key=lambda w: w.number)
        worker.retiring = True
        LOG.info("Replacing worker %d of %d (pid %d)", worker.number, self._total, worker.pid)
        self._spawn(worker.number)

    def _needs_replacing(self, worker):
        return not worker.retiring and (
            worker.started_in < self._roll_generation or worker.outdated
        )

    def _signal(self, worker, signum):
        try:
            os.kill(worker.pid, signum)
        except ProcessLookupError:
            pass

    def _terminate(self, worker):
        if worker.terminated_at is None:
            worker.terminated_at = time.monotonic()
            self._signal(worker, signal.SIGTERM)

    def _kill(self, worker, why):
        if not worker.killed:
            worker.killed = why
            self._signal(worker, signal.SIGKILL)

    # Reporting

    def _report(self):
        ready = self._ready_count()
        self._board.publish(self._generation, self._on_latest_count(), self._total)
        if self._stopping:
            status = f"stopping, {len(self._workers)} workers left"
        else:
            status = f"{ready}/{self._total} workers ready"
            if self._reloading:
                status += ", reloading"
        if not self._stopping and ready == self._total:
            if self._reloading and self._reload_done():
                self._reloading = False
                status = f"{ready}/{self._total} workers ready"
                LOG.info("Reload done, %s", status)
                self._notify_ready(status)
            elif not self._reloading and not self._ever_ready:
                LOG.info("All %d workers ready", self._total)
                self._notify_ready(status)
        if status != self._last_status:
            self._last_status = status
            systemd.notify_status(status)
        self._watchdog()

    def _notify_ready(self, status):
        self._ever_ready = True
        self._last_status = status
        systemd.notify_ready(status)

    def _on_latest_count(self):
        """Workers that serve the configuration last loaded."""
        return sum(
            1
            for w in self._workers.values()
            if w.ready
            and not w.killed
            and w.generation == self._generation
            and not self._needs_replacing(w)
        )

    def _reload_done(self):
        return not any(
            w.reset_pending
            or w.retiring
            or w.generation < self._generation
            or self._needs_replacing(w)
            for w in self._workers.values()
        )

    def _watchdog(self):
        now = time.monotonic()
        if not self._watchdog_interval or now < self._next_watchdog:
            return
        self._next_watchdog = now + self._watchdog_interval
        hang = self.conf.launcher.worker_hang_timeout
        # A worker already killed for hanging is handled; only one that hangs
        # unnoticed (the loop stuck, or stopping) withholds the watchdog.
        if all(now - w.last_seen <= hang for w in self._workers.values() if not w.killed):
            systemd.notify_watchdog()
