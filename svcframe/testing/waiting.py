"""Waiting for something that happens in another thread or process.

A cast returns before the server has handled it, a child process reports
ready when it is ready, a heartbeat lands on its own schedule: a test polls
for the effect instead of sleeping for a guessed time::

    from svcframe.testing import wait_until

    api.reset_stats(svc_context)  # a cast
    wait_until(lambda: service.manager.stats == {}, timeout=5, message="the stats reset")
"""

import time

__all__ = ["WaitTimeout", "wait_until"]

_REPR_LIMIT = 500


class WaitTimeout(AssertionError):
    """What was awaited did not happen in time.

    An AssertionError, so that a test fails on it like on any other check,
    and not a TimeoutError: that is an OSError, which code around sockets
    catches broadly.
    """

    def __init__(self, message, timeout, last):
        super().__init__(message)
        #: The seconds waited.
        self.timeout = timeout
        #: The predicate's last value, or the exception it last raised.
        self.last = last


def wait_until(predicate, timeout=10.0, *, interval=0.02, message=None, ignore=()):
    """Call ``predicate()`` until it returns something true, and return that.

    ``predicate`` is called at once, then every ``interval`` seconds, and
    once more when ``timeout`` seconds have passed; if it has still returned
    nothing true, :class:`WaitTimeout` (an ``AssertionError``) says what was
    awaited, for how long, and the last value the predicate returned.

    ``message`` names what is awaited: a string, or a callable returning one,
    called only on timeout, so that it can describe the state at that moment
    (``lambda: f"3 replies; got {replies}"``). Without it the predicate's
    name and source line are used.

    An exception of a type in ``ignore`` (a class or a tuple) raised by the
    predicate counts as "not yet", as a refused connection does while a
    server starts; the last one is reported on timeout. Any other exception
    propagates at once.
    """
    if interval <= 0:
        raise ValueError(f"'interval' must be > 0, not: {interval!r}")
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except ignore as exc:
            value = exc
        else:
            if value:
                return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(_describe(predicate, timeout, message, value), timeout, value)
        time.sleep(min(interval, remaining))


def _describe(predicate, timeout, message, last):
    if callable(message):
        message = message()
    if message is None:
        message = _name(predicate)
    if isinstance(last, BaseException):
        seen = f"last raised {type(last).__name__}: {last}"
    else:
        seen = f"last value {_short_repr(last)}"
    return f"timed out after {timeout} s waiting for {message} ({seen})"


def _name(predicate):
    name = getattr(predicate, "__qualname__", None) or repr(predicate)
    code = getattr(predicate, "__code__", None)
    if code is not None:
        name = f"{name} at {code.co_filename}:{code.co_firstlineno}"
    return name


def _short_repr(value):
    text = repr(value)
    if len(text) > _REPR_LIMIT:
        text = f"{text[: _REPR_LIMIT - 3]}..."
    return text
