"""A daemon thread started on first use in each process.

A forked child does not inherit its parent's threads: what a thread does
for a process (logging slow requests, writing metrics) must start again
in the child on first use, and never in a launcher's master, which must
have no thread when it forks.
"""

import os
import threading

__all__ = ["PerProcessThread"]


class PerProcessThread:
    """``target`` in one daemon thread named ``name`` per process, from the first ``ensure()``."""

    def __init__(self, target, name):
        self._target = target
        self._name = name
        self._pid = None
        self._lock = threading.Lock()

    def ensure(self):
        """Start the thread in this process if it has not started yet; True if started now."""
        if self._pid == os.getpid():
            return False
        with self._lock:
            if self._pid == os.getpid():
                return False
            self._pid = os.getpid()
        threading.Thread(target=self._target, name=self._name, daemon=True).start()
        return True

    def running_here(self):
        """Whether the thread was started in this process."""
        return self._pid == os.getpid()
