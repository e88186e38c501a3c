"""The kinds of task an agent can run: name -> function(params, report) -> result.

``report(percent)`` records progress; a function raises to fail its task.
"""

import time

__all__ = ["KINDS", "MAX_SLEEP_SECONDS", "UnknownTaskKind"]


class UnknownTaskKind(ValueError):
    """The agent has no task kind of that name."""


# A sleep task holds an executor thread: a peer must not be able to pin
# them all for hours.
MAX_SLEEP_SECONDS = 300


def _sleep(params, report):
    """Sleep ``seconds`` (default 1, at most MAX_SLEEP_SECONDS), reporting progress."""
    try:
        seconds = float(params.get("seconds", 1))
    except (TypeError, ValueError):
        raise ValueError("sleep: 'seconds' must be a number")
    if not 0 <= seconds <= MAX_SLEEP_SECONDS:
        raise ValueError(f"sleep: 'seconds' must be between 0 and {MAX_SLEEP_SECONDS}")
    steps = max(1, int(seconds * 10))
    for step in range(1, steps + 1):
        time.sleep(seconds / steps)
        report(int(step * 100 / steps))
    return {"slept": seconds}


def _sum(params, report):
    """Add up ``numbers``."""
    numbers = params.get("numbers", [])
    if not all(isinstance(n, (int, float)) for n in numbers):
        raise ValueError("sum: 'numbers' must be a list of numbers")
    return {"sum": sum(numbers)}


def _fail(params, report):
    """Fail with ``message``: a task that shows what failure looks like."""
    raise RuntimeError(params.get("message", "this task fails on purpose"))


KINDS = {"sleep": _sleep, "sum": _sum, "fail": _fail}
