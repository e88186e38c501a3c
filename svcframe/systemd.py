"""sd_notify(3) over ``$NOTIFY_SOCKET``, with the standard library (and svcframe.masking) only.

Every helper is a no-op returning False when the process does not run
under a notify-type unit (``NOTIFY_SOCKET`` unset), so callers never have to
check.  A socket path starting with ``@`` is in the abstract namespace.
"""

import os
import socket
import time

from svcframe.masking import mask_password

__all__ = [
    "notify",
    "notify_ready",
    "notify_reloading",
    "notify_status",
    "notify_stopping",
    "notify_watchdog",
    "watchdog_interval",
]


def _address(path):
    if path.startswith("@"):
        return "\0" + path[1:]
    return path


def notify(*assignments):
    """Send ``KEY=value`` assignments in one datagram.

    Never blocks: a caller's main loop must not hang on a full socket
    queue, so a message that does not fit is dropped.

    :returns: True if a datagram was sent, False without ``NOTIFY_SOCKET``,
        if the socket is gone (systemd stopped listening) or its queue is full.
    """
    path = os.environ.get("NOTIFY_SOCKET")
    if not path or not assignments:
        return False
    payload = "\n".join(assignments).encode("utf-8")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(payload, socket.MSG_DONTWAIT, _address(path))
        except OSError:
            return False
    return True


def _with_status(assignments, status):
    if status is not None:
        # Shown to anyone who may run ``systemctl status``: no passwords.
        assignments.append("STATUS=" + mask_password(status).replace("\n", " "))
    return notify(*assignments)


def notify_ready(status=None):
    """Startup or reload finished: the service is serving."""
    return _with_status(["READY=1"], status)


def notify_reloading(status=None):
    """A reload starts.

    ``MONOTONIC_USEC`` is what lets systemd (>= 253, ``Type=notify-reload``)
    match this message to the reload it asked for.
    """
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return _with_status(["RELOADING=1", f"MONOTONIC_USEC={usec}"], status)


def notify_stopping(status=None):
    """Shutdown started."""
    return _with_status(["STOPPING=1"], status)


def notify_status(text):
    """A one-line free-form status shown by ``systemctl status``."""
    return _with_status([], text)


def notify_watchdog():
    """Tell the service manager this process is alive and healthy."""
    return notify("WATCHDOG=1")


def watchdog_interval():
    """Seconds between two ``WATCHDOG=1``, or None if no watchdog is asked for.

    Half of ``WATCHDOG_USEC``, as sd_watchdog_enabled(3) advises, and only when
    ``WATCHDOG_PID`` is unset or names this process.
    """
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000
