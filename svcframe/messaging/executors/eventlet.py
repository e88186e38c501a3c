"""EventletExecutor: requests run in a pool of green threads (legacy eventlet services)."""

from svcframe.messaging import exceptions

__all__ = ["EventletExecutor"]


class EventletExecutor:
    """Runs requests on up to ``executor_thread_pool_size`` green threads."""

    def __init__(self, conf):
        try:
            import eventlet
            import eventlet.patcher
        except ImportError:
            raise exceptions.ExecutorLoadFailure(
                "The eventlet executor needs the eventlet package (pip install svcframe[eventlet])"
            )
        # Without monkey patching, the listener's native thread and green
        # threads would block each other.
        if not eventlet.patcher.is_monkey_patched("thread"):
            raise exceptions.ExecutorLoadFailure(
                "The eventlet executor needs eventlet.monkey_patch() before any other import"
            )
        self._pool = eventlet.GreenPool(conf.executor_thread_pool_size)

    def submit(self, fn, *args):
        return self._pool.spawn(fn, *args)

    def shutdown(self, wait=True):
        if wait:
            self._pool.waitall()
