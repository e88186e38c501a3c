"""Messages from a worker to its master, one line each, over a pipe."""

import os

__all__ = ["BOOT_ERROR", "HEARTBEAT", "READY", "RESET", "Reader", "send"]

HEARTBEAT = "h"
READY = "r"
RESET = "m"
BOOT_ERROR = "b"

# Under PIPE_BUF, so that a message written by one thread is never
# interleaved with a heartbeat written by another.
_MAX_MESSAGE = 512


def send(fd, kind, text=""):
    line = (kind + " ".join(text.split())).encode("utf-8", "replace")[: _MAX_MESSAGE - 1]
    os.write(fd, line + b"\n")


class Reader:
    """Splits what a worker wrote into ``(kind, text)`` messages."""

    def __init__(self):
        self._buffer = b""

    def feed(self, data):
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        return [(line[:1].decode(), line[1:].decode("utf-8", "replace")) for line in lines if line]
