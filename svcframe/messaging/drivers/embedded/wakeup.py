"""Waking a consumer when a message arrives: inotify on Linux, polling elsewhere.

With inotify a consumer that has nothing to do sleeps in ``select`` until
a message file is renamed into one of its queues; nothing runs on a timer.
Without it (another platform, or ``inotify_simple`` not installed) every
queue counts as changed and the consumer looks again every
``polling_interval`` seconds.
"""

import logging
import os
import select
import struct
import time

try:
    import inotify_simple
except ImportError:  # not Linux
    inotify_simple = None

# struct inotify_event: wd, mask, cookie, len, then len bytes of name.
_EVENT = struct.Struct("iIII")
# Room for many events, and at least one with the longest name.
_READ_SIZE = 65536

__all__ = ["DirectoryGone", "new_wakeup"]

LOG = logging.getLogger(__name__)


class DirectoryGone(OSError):
    """A watched queue directory was deleted (the data directory removed under us)."""


class _InotifyWakeup:
    """Which watched queues changed since the last look, and a wait for the next change."""

    def __init__(self):
        flags = inotify_simple.flags
        # A message arrives by rename (MOVED_TO) or by link (CREATE).
        self._mask = flags.MOVED_TO | flags.CREATE | flags.DELETE_SELF | flags.MOVE_SELF
        self._gone = flags.DELETE_SELF | flags.MOVE_SELF | flags.IGNORED
        self._overflow = flags.Q_OVERFLOW
        self._inotify = inotify_simple.INotify(nonblocking=True)
        self._queues = {}  # wd -> queue
        self._watches = {}  # queue -> wd
        # queue -> names of the files that arrived, or None: look at them all.
        self._changed = {}
        self._lost = None
        # Another thread's interrupt(): a byte in this pipe ends a wait.
        self._interrupt_r, self._interrupt_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def watch(self, queue, path):
        if queue in self._watches:
            return
        wd = self._inotify.add_watch(path, self._mask)
        self._queues[wd] = queue
        self._watches[queue] = wd
        self._changed[queue] = None  # whatever arrived before the watch

    def unwatch(self, queue):
        wd = self._watches.pop(queue, None)
        if wd is not None:
            self._queues.pop(wd, None)
            try:
                self._inotify.rm_watch(wd)
            except OSError:
                pass

    def take_changed(self, queue):
        """What arrived in ``queue`` since the last call: False, True (look), or their names.

        The names spare the consumer a listing of the directory for every
        message; True says that any file may be new.
        """
        if self._lost is not None:
            # Until the connection is replaced: a caller reading replies may
            # see it first, and the consuming thread must see it too.
            raise DirectoryGone(self._lost)
        if queue not in self._changed:
            return False
        names = self._changed.pop(queue)
        return True if names is None else names

    def wait(self, timeout, blocked=False):
        """Block until a queue changes, ``timeout`` passes or interrupt(); True if interrupted.

        ``blocked``: the consumer may not take more now (its prefetch is
        full), so queues already known to have changed do not end the wait.
        """
        if self._changed and not blocked:
            return False
        fds = [self._inotify.fileno(), self._interrupt_r]
        ready, _, _ = select.select(fds, [], [], timeout)
        if self._inotify.fileno() in ready:
            self._read()
        if self._interrupt_r in ready:
            try:
                os.read(self._interrupt_r, 4096)
            except BlockingIOError:
                pass
            return True
        return False

    def interrupt(self):
        try:
            os.write(self._interrupt_w, b"x")
        except (BlockingIOError, OSError):
            pass  # already pending, or closed

    def _read(self):
        # One read and struct.unpack_from: inotify_simple's read (an ioctl
        # first, a namedtuple per event) cost more than the message it told of.
        try:
            data = os.read(self._inotify.fileno(), _READ_SIZE)
        except BlockingIOError:
            return
        pos, end = 0, len(data)
        while pos < end:
            wd, mask, _cookie, size = _EVENT.unpack_from(data, pos)
            pos += _EVENT.size
            name = os.fsdecode(data[pos : pos + size].rstrip(b"\0"))
            pos += size
            if mask & self._overflow:
                self._changed.update(dict.fromkeys(self._watches))
                continue
            queue = self._queues.get(wd)
            if queue is None:
                continue
            if mask & self._gone:
                self._lost = f"queue directory of {queue!r} was removed"
                self._queues.pop(wd, None)
                self._watches.pop(queue, None)
            elif queue not in self._changed:
                self._changed[queue] = [name]
            else:
                names = self._changed[queue]
                if names is not None:
                    names.append(name)

    def close(self):
        for close in (self._inotify.close, lambda: os.close(self._interrupt_r)):
            try:
                close()
            except OSError:
                pass
        try:
            os.close(self._interrupt_w)
        except OSError:
            pass


class _PollingWakeup:
    """Every queue may have changed; waiting is sleeping ``interval``."""

    def __init__(self, interval):
        self.interval = interval
        self._dirs = {}
        self._interrupted = False

    def watch(self, queue, path):
        self._dirs[queue] = path

    def unwatch(self, queue):
        self._dirs.pop(queue, None)

    def take_changed(self, queue):
        path = self._dirs.get(queue)
        if path is not None and not os.path.isdir(path):
            raise DirectoryGone(f"queue directory of {queue!r} was removed")
        return True

    def wait(self, timeout, blocked=False):
        time.sleep(min(self.interval, timeout) if timeout is not None else self.interval)
        interrupted, self._interrupted = self._interrupted, False
        return interrupted

    def interrupt(self):
        self._interrupted = True

    def close(self):
        pass


def new_wakeup(polling_interval):
    if inotify_simple is not None:
        try:
            return _InotifyWakeup()
        except OSError as exc:  # e.g. fs.inotify.max_user_instances reached
            LOG.warning("inotify unavailable (%s); polling every %s s", exc, polling_interval)
    return _PollingWakeup(polling_interval)
