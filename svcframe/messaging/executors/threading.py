"""ThreadingExecutor: requests run in a pool of native threads (the default)."""

from concurrent import futures

__all__ = ["ThreadingExecutor"]


class ThreadingExecutor:
    """Runs requests on up to ``executor_thread_pool_size`` native threads."""

    def __init__(self, conf):
        # oslo.messaging's definition of the option has no lower bound.
        if conf.executor_thread_pool_size < 1:
            raise ValueError(
                "[DEFAULT] executor_thread_pool_size must be at least 1, "
                f"not {conf.executor_thread_pool_size}"
            )
        self._pool = futures.ThreadPoolExecutor(
            max_workers=conf.executor_thread_pool_size, thread_name_prefix="rpc-executor"
        )

    def submit(self, fn, *args):
        return self._pool.submit(fn, *args)

    def shutdown(self, wait=True):
        self._pool.shutdown(wait=wait)
