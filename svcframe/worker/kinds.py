"""The kinds of task a worker can run: name -> function(params, report) -> result.

``report(percent)`` records progress; a function raises to fail its task.
"""

import time

__all__ = ["KINDS", "UnknownTaskKind"]


class UnknownTaskKind(ValueError):
    """The worker has no task kind of that name."""


def _sleep(params, report):
    """Sleep ``seconds`` (default 1), reporting progress along the way."""
    seconds = float(params.get("seconds", 1))
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
