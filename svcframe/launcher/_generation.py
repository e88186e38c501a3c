"""Which configuration a process runs: a generation number and a digest.

Generation 0 is the configuration a launcher started with; each reload that
changes something bumps it.  The digest (see ``_config.digest``) tells two
configurations apart without showing them.  A master shares a
:class:`Board` with its workers: the latest generation it loaded, and how
many workers run it, so that any worker can answer for all of them.
"""

import mmap
import struct

__all__ = ["Board", "running_config", "set_board", "set_running"]

_running = {"generation": None, "digest": None}
_board = None


class Board:
    """A few bytes of memory the master writes and its forked workers read.

    Mapped before the first fork; the master publishes a new generation
    before it signals the workers, so a worker that handles the signal
    reads that generation or a later one.
    """

    _LAYOUT = struct.Struct("<QII")  # latest generation, workers on it, workers

    def __init__(self):
        self._map = mmap.mmap(-1, self._LAYOUT.size)

    def publish(self, generation, current=0, total=0):
        self._LAYOUT.pack_into(self._map, 0, generation, current, total)

    def read(self):
        """(latest generation, workers running it, workers)."""
        return self._LAYOUT.unpack_from(self._map, 0)

    def close(self):
        self._map.close()


def set_running(generation, digest):
    """Record the configuration this process runs now."""
    _running["generation"] = generation
    _running["digest"] = digest


def set_board(board):
    global _board
    _board = board


def running_config():
    """What this process runs, for ``ping`` replies.

    ``config_generation`` and ``config_digest`` are None in a process no
    launcher runs; ``config_workers`` ("2/4": how many workers of this
    process's master run its latest generation) is None without a master.
    """
    workers = None
    if _board is not None:
        _, current, total = _board.read()
        workers = f"{current}/{total}"
    return {
        "config_generation": _running["generation"],
        "config_digest": _running["digest"],
        "config_workers": workers,
    }
