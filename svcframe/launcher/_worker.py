"""The worker side of a ProcessLauncher: what runs in each forked child."""

import logging
import os
import random
import signal
import threading
import time

from svcframe import log, metrics
from svcframe.launcher import _channel, _config, _generation, _proctitle, _report
from svcframe.launcher._base import EXIT_FAILURE
from svcframe.launcher._runner import SIGNALS, Runner
from svcframe.launcher._signals import SignalManager

__all__ = ["WorkerSpec", "main"]

LOG = logging.getLogger("svcframe.launcher")

# Only the master speaks to systemd: a worker (or a library in it) that
# notified would overrule the master's idea of the service state.
_MASTER_ONLY_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class WorkerSpec:
    """What a forked child needs to know about itself.

    ``generation`` is the configuration generation the master had loaded
    when it forked the child; ``option_keys`` the options the master
    digests (options a worker registers later would make its digest differ
    from the master's for the same files); ``board`` the master's
    :class:`_generation.Board`.
    """

    def __init__(
        self,
        number,
        total,
        name,
        status_fd,
        lifeline_fd,
        master_pid,
        generation=0,
        option_keys=frozenset(),
        board=None,
    ):
        self.number = number
        self.total = total
        self.name = name
        self.status_fd = status_fd
        self.lifeline_fd = lifeline_fd
        self.master_pid = master_pid
        self.generation = generation
        self.option_keys = option_keys
        self.board = board


class WorkerRunner(Runner):
    def __init__(self, conf, service, spec):
        super().__init__(conf, service)
        self.spec = spec
        self.generation = spec.generation
        self.digest = None

    def show_config(self):
        """Put the generation and digest this worker runs in its title and ping replies."""
        self.digest = _config.digest(self.conf, self.spec.option_keys)
        _generation.set_running(self.generation, self.digest)
        spec = self.spec
        _proctitle.set_worker_title(
            spec.name, spec.number, spec.total, self.generation, self.digest
        )

    def prepare(self):
        # The service was built in the master from the configuration it
        # started with; this process has the one the master loaded last.
        # reset() brings what the manager cached up to date before the
        # first request, as SIGHUP does in a running worker.
        if self.generation > 0:
            self.service.reset()

    def on_ready(self):
        _channel.send(self.spec.status_fd, _channel.READY)

    # The master says why each worker failed to boot, once for all of them.
    boot_failure_level = logging.DEBUG

    def on_boot_failure(self, exc):
        _channel.send(self.spec.status_fd, _channel.BOOT_ERROR, f"{type(exc).__name__}: {exc}")

    def reload(self):
        # The master publishes the generation before it signals: this is
        # the one its files hold, or a later one whose SIGHUP is on its way.
        latest = self.spec.board.read()[0] if self.spec.board is not None else self.generation
        _, failure = _config.attempt(self.apply_config)
        if failure is not None:
            LOG.error(
                "Could not apply configuration %d, keeping configuration %d: %s",
                latest,
                self.generation,
                failure,
            )
        else:
            self.generation = latest
            self.show_config()
        _channel.send(
            self.spec.status_fd, _channel.RESET, f"{latest} {self.generation} {self.digest}"
        )
        _beat_now.set()


# Most of an idle worker's wake-ups are heartbeats: no more than needed.
MAX_HEARTBEAT_INTERVAL = 5.0


def heartbeat_interval(conf):
    """Seconds between two heartbeats: as set, or a sixth of the hang timeout, at most 5."""
    if conf.launcher.worker_heartbeat_interval:
        return conf.launcher.worker_heartbeat_interval
    return min(MAX_HEARTBEAT_INTERVAL, conf.launcher.worker_hang_timeout / 6)


# Set after a reload: the hang timeout may be shorter than the sleep in progress.
_beat_now = threading.Event()


def _heartbeat(fd, conf):
    while True:
        try:
            _channel.send(fd, _channel.HEARTBEAT)
        except OSError:
            return
        _beat_now.wait(heartbeat_interval(conf))
        _beat_now.clear()


def _watch_master(spec, grace):
    # The master holds the only write end of the lifeline: EOF means it died.
    try:
        while os.read(spec.lifeline_fd, 1):
            pass
    except OSError:
        pass
    LOG.warning("Master (pid %d) is gone, stopping", spec.master_pid)
    os.kill(os.getpid(), signal.SIGTERM)
    if not grace:
        return
    time.sleep(grace)
    LOG.error("Still running %s s after the master died, exiting", grace)
    logging.shutdown()
    os._exit(EXIT_FAILURE)


def _start_thread(target, name, *args):
    threading.Thread(target=target, name=name, args=args, daemon=True).start()


def main(conf, service, spec, unblock):
    """Run the service in this freshly forked child; never returns.

    ``unblock`` are the signals the master blocked across the fork: they
    are unblocked once this process has its own handlers.
    """
    status = EXIT_FAILURE
    try:
        signals = SignalManager(SIGNALS)
        _report.install(conf, spec.name)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, unblock)
        for key in _MASTER_ONLY_ENV:
            os.environ.pop(key, None)
        random.seed()
        log.set_worker_tag(f"worker-{spec.number}")
        _generation.set_board(spec.board)
        runner = WorkerRunner(conf, service, spec)
        runner.show_config()
        _start_thread(
            _heartbeat,
            "svcframe-heartbeat",
            spec.status_fd,
            conf,
        )
        _start_thread(_watch_master, "svcframe-lifeline", spec, conf.graceful_shutdown_timeout)
        status = runner.run(signals)
        LOG.info("Worker %d exiting with status %d", spec.number, status)
    except BaseException:
        LOG.exception("Worker %d failed", spec.number)
    finally:
        metrics.flush()
        logging.shutdown()
        os._exit(status)
