"""PeriodicRunner: the timer that drives a manager's periodic tasks in a worker."""

import logging
import random
import threading

__all__ = ["PeriodicRunner"]

LOG = logging.getLogger(__name__)


class PeriodicRunner:
    """Calls ``func()`` after a random initial delay, then again after what it returns.

    ``func`` returns how long it may idle; the wait is capped at
    ``interval_max``.  An exception is logged and the timer goes on: a
    failing task must not silence the others for the rest of the process.
    """

    def __init__(self, func, fuzzy_delay, interval_max, name="periodic-tasks"):
        self._func = func
        self._initial_delay = random.uniform(0, fuzzy_delay) if fuzzy_delay else 0.0
        self._interval_max = interval_max
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def initial_delay(self):
        return self._initial_delay

    def start(self):
        self._thread.start()
        return self

    def stop(self, timeout=5.0):
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self):
        if self._stop.wait(self._initial_delay):
            return
        while not self._stop.is_set():
            try:
                idle = self._func()
            except Exception:
                LOG.exception("Periodic tasks failed; trying again later")
                idle = None
            if idle is None:
                idle = self._interval_max
            elif self._interval_max:
                idle = min(idle, self._interval_max)
            self._stop.wait(max(idle, 0.0))
