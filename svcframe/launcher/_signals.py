"""Signals delivered to the main thread through a wakeup pipe."""

import os
import select
import signal

__all__ = ["WAKE", "SignalManager", "blocked", "signal_name"]

#: Not a signal number: what :meth:`SignalManager.wake` puts in the pipe.
WAKE = 0


def signal_name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _ignore(signum, frame):
    pass


class blocked:
    """Hold back the given signals for a ``with`` block (e.g. across a fork).

    A signal that arrives meanwhile is delivered when the block ends, to the
    handlers in place then: in a child, the ones the child installed.
    """

    def __init__(self, signals):
        self._signals = set(signals)

    def __enter__(self):
        self._previous = signal.pthread_sigmask(signal.SIG_BLOCK, self._signals)
        return self

    def __exit__(self, *exc_info):
        signal.pthread_sigmask(signal.SIG_SETMASK, self._previous)


class SignalManager:
    """Deliver signals as bytes in a pipe that the main loop selects on.

    The Python handlers do nothing: the C-level handler writes the signal
    number to the wakeup fd, so each delivery is read exactly once, by the
    main thread, whatever the main thread was doing when it arrived.
    Handling signals inside the handlers themselves would run them at
    arbitrary points of the main thread, possibly in the middle of a
    non-reentrant call.
    """

    def __init__(self, signals):
        self._rfd, self._wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._previous_fd = signal.set_wakeup_fd(self._wfd, warn_on_full_buffer=False)
        self._previous = {signum: signal.signal(signum, _ignore) for signum in signals}

    def fileno(self):
        return self._rfd

    def wake(self):
        """Make the main loop's wait return: safe to call from any thread."""
        try:
            os.write(self._wfd, bytes([WAKE]))
        except BlockingIOError:
            pass

    def read(self):
        """Signals received since the last read, in order, without blocking."""
        received = []
        while True:
            try:
                chunk = os.read(self._rfd, 512)
            except BlockingIOError:
                break
            if not chunk:
                break
            received.extend(chunk)
        return received

    def wait(self, timeout=None):
        """Signals received, waiting up to ``timeout`` seconds for one."""
        select.select([self._rfd], [], [], timeout)
        return self.read()

    def close(self):
        """Restore the handlers and wakeup fd found at creation; close the pipe."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._rfd)
        os.close(self._wfd)
