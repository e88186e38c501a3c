"""EventletExecutor: requests run in a pool of green threads (legacy eventlet services)."""

import logging

from svcframe.messaging import exceptions
from svcframe.messaging.executors.threading import ThreadingExecutor

__all__ = ["EventletExecutor"]

LOG = logging.getLogger(__name__)


class EventletExecutor:
    """Runs requests on up to ``executor_thread_pool_size`` green threads.

    Without ``eventlet.monkey_patch()`` the listener's native thread and
    green threads would block each other: the requests then run on native
    threads, with a warning, as oslo.messaging goes on with a warning too
    (code and fixtures written for it ask for ``eventlet`` by habit).
    """

    def __init__(self, conf):
        try:
            import eventlet
            import eventlet.patcher
        except ImportError:
            raise exceptions.ExecutorLoadFailure(
                "The eventlet executor needs the eventlet package (pip install svcframe[eventlet])"
            )
        if not eventlet.patcher.is_monkey_patched("thread"):
            LOG.warning(
                "The eventlet executor needs eventlet.monkey_patch() before any other "
                "import: running requests on native threads instead"
            )
            self._threads = ThreadingExecutor(conf)
            self._pool = None
            return
        self._threads = None
        self._pool = eventlet.GreenPool(conf.executor_thread_pool_size)

    def submit(self, fn, *args):
        if self._threads is not None:
            return self._threads.submit(fn, *args)
        return self._pool.spawn(fn, *args)

    def shutdown(self, wait=True):
        if self._threads is not None:
            self._threads.shutdown(wait=wait)
        elif wait:
            self._pool.waitall()
