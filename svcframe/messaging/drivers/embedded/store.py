"""The embedded transport's queues on disk: one directory per queue, one file per message.

Layout under the data directory (every directory 0700, every file 0600)::

    exchanges/<exchange>.exchange    bindings, as kombu's filesystem transport keeps them
    queues/<queue>/<stamp>.msg       messages, named so that name order is arrival order
    queues/<queue>/.claimed/<process>~<stamp>.msg   taken by <process>, not yet acked
    queues/<queue>/.consumers/<process>.<n>         a process consuming the queue
    queues/<queue>/.owner                           the process a private queue
                                                    (reply, fanout) belongs to

A process is named ``<pid>@<start time>`` (its start in clock ticks after
boot, from /proc), or ``<pid>`` where /proc cannot tell: a pid alone is
taken again by the processes of a container started again on the same
data directory, which must not pass for the dead ones.

A message is written under a hidden name and renamed into place, so a
reader never sees half a file; a consumer claims one by renaming it into
``.claimed`` (atomic: one process wins).  The claimer in the claimed name
lets any process give a dead consumer's messages back to the queue.
Each queue's directory is listed only when it changed (the consumer is
told by inotify, or polls without it), and the sorted listing is used
for a whole batch: a receive costs O(1), not a listing of the backlog.
With inotify the names of the new files come with the wakeup, and the
directory is listed only when the consumer starts or events were lost.
"""

import collections
import errno
import itertools
import json
import logging
import os
import re
import shutil
import threading
import time

from svcframe import statedir
from svcframe.messaging import exceptions
from svcframe.messaging.drivers.embedded import location

__all__ = ["QueueStore", "InvalidQueueName", "StoreFull", "pid_alive"]

LOG = logging.getLogger(__name__)

CLAIMED = ".claimed"
CONSUMERS = ".consumers"
OWNER = ".owner"
SUFFIX = ".msg"

# What may name a queue or an exchange: they become file names.
_VALID_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")


# One sequence per process: several stores (connections) of one process
# must never make the same file name.
_sequence = itertools.count()


class InvalidQueueName(ValueError):
    """A queue or exchange name that cannot be a file name (from the wire: refused)."""


class StoreFull(exceptions.MessageDeliveryFailure):
    """The data directory cannot take a message or a queue (full, read-only, no permission)."""


def check_name(name, what="queue"):
    if not isinstance(name, str) or not _VALID_NAME.fullmatch(name):
        raise InvalidQueueName(
            f"invalid {what} name {str(name)[:80]!r}: use at most 200 letters, digits, "
            "'_', '.' and '-'"
        )
    return name


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def _start_time(pid="self"):
    """When process ``pid`` started, in clock ticks after boot; None when /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # Field 22; the command name before it is in parentheses and may hold spaces.
            return int(f.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _process_of(text):
    """(pid, start time or None) of a process name ``<pid>[@<start>]``; None if it is not one."""
    pid, _, start = text.partition("@")
    try:
        return int(pid), int(start) if start else None
    except ValueError:
        return None


# (pid, start time) -> when /proc last confirmed that start time.  Every
# call and every reply asks whether a process still runs; the signal-0
# probe is asked each time, the start time (a file read, some 10-20 us)
# only once a second: a pid taken again within that second would have to
# wrap the whole pid space.
_confirmed = {}
_RECONFIRM_S = 1.0
_CONFIRMED_MAX = 4096


def _gone(process):
    """Whether ``process`` (pid, start time) has exited, even if its pid runs another one now."""
    pid, start = process
    if not pid_alive(pid):
        _confirmed.pop(process, None)
        return True
    if start is None:
        return False
    now = time.monotonic()
    if now - _confirmed.get(process, -_RECONFIRM_S) < _RECONFIRM_S:
        return False
    current = _start_time(pid)
    if current is not None and current != start:
        _confirmed.pop(process, None)
        return True
    if len(_confirmed) >= _CONFIRMED_MAX:
        _confirmed.clear()
    _confirmed[process] = now
    return False


class QueueStore:
    """The queues of one data directory, as seen by one process."""

    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.queues_dir = os.path.join(data_dir, "queues")
        self.control_dir = os.path.join(data_dir, "exchanges")
        self._pid = os.getpid()
        start = _start_time()
        self._process = (self._pid, start)
        self._name = str(self._pid) if start is None else f"{self._pid}@{start}"
        self._owners = {}  # queue -> process, for private queues (never changes)
        self._consumers = {}  # queue -> ((inode, mtime) of .consumers, live processes)
        self._lock = threading.Lock()

    # -- directories --------------------------------------------------------

    def ensure_dirs(self):
        for path in (self.data_dir, self.queues_dir, self.control_dir):
            statedir.ensure_private_dir(path)

    def queue_dir(self, queue):
        return os.path.join(self.queues_dir, check_name(queue))

    def declare(self, queue, owner_pid=None):
        """Create ``queue``'s directory; ``owner_pid`` marks a queue private to that process."""
        path = self.queue_dir(queue)
        try:
            for sub in (path, os.path.join(path, CLAIMED), os.path.join(path, CONSUMERS)):
                if not os.path.isdir(sub):
                    statedir.ensure_private_dir(sub)
            if owner_pid is not None and not os.path.exists(os.path.join(path, OWNER)):
                tmp = os.path.join(path, f".owner.{self._name}.{next(_sequence)}")
                fd = statedir.open_private_file(tmp)
                with os.fdopen(fd, "w") as f:
                    f.write(self._name if owner_pid == self._pid else str(owner_pid))
                os.rename(tmp, os.path.join(path, OWNER))
        except OSError as exc:
            raise self._full(exc) from None
        return path

    def exists(self, queue):
        return os.path.isdir(os.path.join(self.queues_dir, queue))

    def delete(self, queue):
        self._owners.pop(queue, None)
        shutil.rmtree(os.path.join(self.queues_dir, check_name(queue)), ignore_errors=True)

    def owner(self, queue):
        """The process (pid, start time) a private queue belongs to, None for a shared queue."""
        process = self._owners.get(queue, -1)
        if process == -1:
            try:
                with open(os.path.join(self.queues_dir, queue, OWNER), "rb") as f:
                    process = _process_of(f.read().decode("ascii", "replace"))
            except FileNotFoundError:
                # A shared queue (or a gone one): remembered while it has
                # a directory, as a queue's owner never changes.
                process = None
                if not os.path.isdir(os.path.join(self.queues_dir, queue)):
                    return None
            except OSError:
                return None
            if process is not None and not process[0]:
                process = None
            self._owners[queue] = process
        return process

    def _mine(self, process):
        return process == self._process or process == (self._pid, None)

    def abandoned(self, queue):
        """True when ``queue`` is private to a process that no longer runs."""
        process = self.owner(queue)
        return process is not None and not self._mine(process) and _gone(process)

    # -- consumers ----------------------------------------------------------

    def add_consumer(self, queue):
        """Mark this process as consuming ``queue``; the marker's path."""
        path = os.path.join(self.queue_dir(queue), CONSUMERS, f"{self._name}.{next(_sequence)}")
        try:
            os.close(statedir.open_private_file(path))
        except OSError as exc:
            raise self._full(exc) from None
        return path

    def restore_marker(self, queue, path):
        """Put back a consumer marker that was deleted; DirectoryGone-worthy if the queue is."""
        if os.path.exists(path):
            return True
        if not self.exists(queue):
            return False
        self.declare(queue)
        try:
            os.close(statedir.open_private_file(path))
        except FileExistsError:
            pass
        except OSError as exc:
            raise self._full(exc) from None
        return True

    def has_consumer(self, queue):
        """Whether a live process consumes ``queue`` (markers of dead ones are removed)."""
        folder = os.path.join(self.queues_dir, queue, CONSUMERS)
        # Every call asks: the markers seen last are reused while the
        # directory is unchanged (a stat, not a listing), and still checked
        # for life; a marker gone or added changes the directory's mtime.
        try:
            st = os.stat(folder)
        except OSError:
            return False
        stamp = (st.st_ino, st.st_mtime_ns)
        cached = self._consumers.get(queue)
        if cached is not None and cached[0] == stamp:
            if not all(_gone(process) for process in cached[1]):
                return True
        try:
            names = os.listdir(folder)
        except OSError:
            return False
        live = []
        for name in names:
            process = _process_of(name.partition(".")[0])
            if process is not None and not _gone(process):
                live.append(process)
            else:
                _unlink_quietly(os.path.join(folder, name))
        # Only a listing of a directory unchanged for a while is kept: a
        # change within the clock tick of the last one may keep its mtime.
        if live and time.time_ns() - st.st_mtime_ns > _MTIME_TICK_NS:
            self._consumers[queue] = (stamp, tuple(dict.fromkeys(live)))
        else:
            self._consumers.pop(queue, None)
        return bool(live)

    # -- messages -----------------------------------------------------------

    def put(self, queue, payload):
        """Write ``payload`` (a JSON-able dict) as the newest message of ``queue``.

        False when the queue does not exist; StoreFull when the data
        directory cannot take it.
        """
        folder = os.path.join(self.queues_dir, queue)
        name = f"{time.time_ns():020d}-{self._pid}-{next(_sequence)}{SUFFIX}"
        data = json.dumps(payload).encode("utf-8")
        global _tmpfile_works
        if _tmpfile_works:
            try:
                return self._put_tmpfile(folder, name, data)
            except _NoTmpfile:
                _tmpfile_works = False
        return self._put_renamed(folder, name, data)

    def _put_tmpfile(self, folder, name, data):
        # An unnamed file, linked in once complete: one change to the
        # directory instead of a create and a rename, and a writer killed
        # half-way leaves nothing behind.
        try:
            fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, statedir.FILE_MODE)
        except FileNotFoundError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise _NoTmpfile() from None
            raise self._full(exc) from None
        try:
            _write_all(fd, data)
            os.link(f"/proc/self/fd/{fd}", os.path.join(folder, name), src_dir_fd=_proc_fd())
        except FileNotFoundError:
            if not os.path.isdir(folder):
                return False  # the queue was deleted meanwhile
            raise _NoTmpfile() from None  # no /proc
        except OSError as exc:
            raise self._full(exc) from None
        finally:
            os.close(fd)
        return True

    def _put_renamed(self, folder, name, data):
        partial = os.path.join(folder, "." + name)
        try:
            fd = statedir.open_private_file(partial)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._full(exc) from None
        try:
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            os.rename(partial, os.path.join(folder, name))
        except OSError as exc:
            _unlink_quietly(partial)
            if exc.errno == errno.ENOENT:
                return False  # the queue was deleted meanwhile
            raise self._full(exc) from None
        return True

    def _full(self, exc):
        # No error here is a lost connection: retrying cannot help, so the
        # publisher must not treat it as one (it would spin).
        hint = ""
        if exc.errno == errno.ENOSPC and self.data_dir.startswith(location.MEMORY_ROOT + "/"):
            hint = (
                "; the queues are in memory: free some, or set [embedded] data_dir "
                "to a directory on disk for a larger backlog"
            )
        return StoreFull(
            f"cannot write under {self.data_dir} (embedded transport): {exc.strerror or exc}{hint}"
        )

    def list_ready(self, queue, arrived=None):
        """The names of ``queue``'s ready messages, oldest first.

        ``arrived``: the names of the files known to have arrived, instead
        of a listing of the directory (some may be taken already).
        """
        if arrived is None:
            try:
                arrived = [e.name for e in os.scandir(os.path.join(self.queues_dir, queue))]
            except FileNotFoundError:
                return collections.deque()
        names = [n for n in arrived if n.endswith(SUFFIX) and not n.startswith(".")]
        names.sort()
        return collections.deque(names)

    def claim(self, queue, name):
        """(claimed path, payload) for message ``name``, or None if another process took it."""
        folder = os.path.join(self.queues_dir, queue)
        claimed = os.path.join(folder, CLAIMED, f"{self._name}~{name}")
        source = os.path.join(folder, name)
        try:
            os.rename(source, claimed)
        except FileNotFoundError:
            if not os.path.exists(source) or os.path.isdir(os.path.dirname(claimed)):
                return None  # another consumer took it
            # .claimed was removed (the data directory deleted under us).
            self.declare(queue)
            try:
                os.rename(source, claimed)
            except FileNotFoundError:
                return None
        try:
            fd = os.open(claimed, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None  # recovered by another process that thought we were dead
        try:
            data = _read_all(fd)
        finally:
            os.close(fd)
        try:
            return claimed, json.loads(data)
        except ValueError:
            LOG.warning("Dropped an unreadable message file %s", claimed)
            _unlink_quietly(claimed)
            return None

    def take(self, queue, name):
        """The payload of message ``name``, removed from the queue; None if another took it.

        For consumers that do not ack (reply queues): whoever unlinks the
        file has it, one system call fewer than a claim.
        """
        path = os.path.join(self.queues_dir, queue, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            try:
                os.unlink(path)
            except FileNotFoundError:
                return None
            data = _read_all(fd)
        finally:
            os.close(fd)
        try:
            return json.loads(data)
        except ValueError:
            LOG.warning("Dropped an unreadable message file %s", path)
            return None

    def release(self, claimed):
        """Put a claimed message back at its place in its queue."""
        folder = os.path.dirname(os.path.dirname(claimed))
        name = os.path.basename(claimed).partition("~")[2]
        try:
            os.rename(claimed, os.path.join(folder, name))
        except FileNotFoundError:
            pass

    def forget(self, claimed):
        """A claimed message is done with (acked, rejected, or no ack needed)."""
        _unlink_quietly(claimed)

    # -- upkeep -------------------------------------------------------------

    def sweep(self):
        """Return dead processes' claims to their queues; delete dead processes' private queues."""
        try:
            queues = os.listdir(self.queues_dir)
        except FileNotFoundError:
            return
        for queue in queues:
            if queue.startswith("."):
                continue
            if self.abandoned(queue):
                LOG.debug("Deleting queue %s: its process has exited", queue)
                self.delete(queue)
                continue
            folder = os.path.join(self.queues_dir, queue, CLAIMED)
            try:
                claimed = os.listdir(folder)
            except OSError:
                continue
            for name in claimed:
                process = _process_of(name.partition("~")[0])
                if process is not None and not self._mine(process) and _gone(process):
                    LOG.info(
                        "Returning message %s of exited process %d to %s", name, process[0], queue
                    )
                    self.release(os.path.join(folder, name))


class _NoTmpfile(Exception):
    """This filesystem (or a missing /proc) cannot link an O_TMPFILE file into place."""


_READ_SIZE = 65536
# Longer than a file timestamp's granularity (the kernel's coarse clock tick).
_MTIME_TICK_NS = 50_000_000
_tmpfile_works = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")
_proc_dir_fd = None


def _proc_fd():
    # A directory fd makes os.link() call linkat(..., AT_SYMLINK_FOLLOW), which
    # links the file /proc/self/fd/N stands for rather than the link itself.
    global _proc_dir_fd
    if _proc_dir_fd is None:
        _proc_dir_fd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return _proc_dir_fd


def _read_all(fd):
    # Not a file object: its fstat, lseek and ioctl cost more than the read.
    # A message file is complete before it is linked in, so a short read of
    # a regular file is its end.
    data = os.read(fd, _READ_SIZE)
    if len(data) < _READ_SIZE:
        return data
    chunks = [data]
    while data:
        data = os.read(fd, _READ_SIZE)
        chunks.append(data)
    return b"".join(chunks)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
