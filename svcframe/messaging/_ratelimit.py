"""Warnings about what arrives from the wire: short, on one line, rate-limited.

A broken or hostile peer can send thousands of bad messages a second.  A
line per message, each quoting the message, fills the disk and buries the
lines an operator needs.  So a server says once what is wrong with a kind
of message, then counts the others of that kind and says how many there
were on the next line about it:

    Rejected an RPC request: ... (and 4,812 more like it in the last 60 s)

and values taken from a message are cut to a few hundred characters.
"""

import collections
import logging
import threading
import time
import weakref

__all__ = ["WIRE_VALUE_LIMIT", "RateLimitedLog", "reset_all", "shorten"]

# Enough to recognise a method name or the start of a body, short enough
# that a line stays a line.
WIRE_VALUE_LIMIT = 200

DEFAULT_INTERVAL = 60.0

# Kinds are few in practice (one per log template and error class); the
# bound only keeps a peer that invents kinds from growing the table.
DEFAULT_MAX_KINDS = 256

_instances = weakref.WeakSet()


def shorten(value, limit=WIRE_VALUE_LIMIT):
    """``value`` as text of at most about ``limit`` characters, on one line.

    Strings are shown as they are, bytes and everything else by ``repr``;
    what is cut off is counted, so that a 5 MB method name reads
    ``mmmm... (5,242,880 characters)``.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        size = len(value)
        text = repr(bytes(value[:limit]))
        unit = "bytes"
    else:
        if not isinstance(value, str):
            try:
                value = str(value)
            except Exception as exc:  # noqa: BLE001 - a hostile __str__ must not break logging
                value = f"<unprintable {type(value).__name__}: {type(exc).__name__}>"
        size = len(value)
        # Cut before escaping: escaping 5 MB to keep 200 characters is waste.
        text = value[:limit].replace("\r", "\\r").replace("\n", "\\n")
        unit = "characters"
    if size <= limit:
        return text
    return f"{text}... ({size:,} {unit})"


class _Kind:
    __slots__ = ("logged_at", "suppressed")

    def __init__(self, logged_at):
        self.logged_at = logged_at
        self.suppressed = 0


class RateLimitedLog:
    """Logs a line of each kind at most once per ``interval`` seconds.

    ``kind`` is any hashable naming what the warning is about (the log
    template and the class of the error, not the values, which differ
    from one bad message to the next).  Warnings of a kind that was logged
    less than ``interval`` seconds ago are counted instead, and the count
    is added to the next warning of that kind that is logged.
    """

    def __init__(
        self,
        logger,
        interval=DEFAULT_INTERVAL,
        max_kinds=DEFAULT_MAX_KINDS,
        clock=time.monotonic,
    ):
        self._logger = logger
        # Public so that a test counting one line per message can set it to 0.
        self.interval = interval
        self._max_kinds = max_kinds
        self._clock = clock
        self._kinds = collections.OrderedDict()
        self._lock = threading.Lock()
        _instances.add(self)

    def warning(self, kind, msg, *args):
        """Log ``msg % args`` at WARNING, or count it; True when it was logged."""
        return self.log(logging.WARNING, kind, msg, *args)

    def log(self, level, kind, msg, *args):
        """Log ``msg % args`` at ``level``, or count it; True when it was logged."""
        now = self._clock()
        with self._lock:
            entry = self._kinds.get(kind)
            if entry is not None and now - entry.logged_at < self.interval:
                entry.suppressed += 1
                return False
            suppressed, since = (entry.suppressed, entry.logged_at) if entry else (0, now)
            self._kinds[kind] = _Kind(now)
            self._kinds.move_to_end(kind)
            while len(self._kinds) > self._max_kinds:
                self._kinds.popitem(last=False)
        if suppressed:
            msg = f"{msg} (and %s more like it in the last %d s)"
            args = (*args, f"{suppressed:,}", round(now - since))
        self._logger.log(level, msg, *args)
        return True

    def suppressed(self, kind):
        """How many warnings of ``kind`` were counted since the last one logged."""
        with self._lock:
            entry = self._kinds.get(kind)
            return entry.suppressed if entry is not None else 0

    def reset(self):
        """Forget every kind: the next warning of each is logged, without a count."""
        with self._lock:
            self._kinds.clear()


def reset_all():
    """reset() every RateLimitedLog, so that a test sees the first warning of each kind."""
    for instance in list(_instances):
        instance.reset()
