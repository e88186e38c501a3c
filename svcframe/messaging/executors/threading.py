"""ThreadingExecutor: requests run in a pool of native threads (the default).

Not ``concurrent.futures.ThreadPoolExecutor``: a server never looks at a
request's Future, and that pool's hand-off (a Future, two locks, and an
idle semaphore built on a Condition for every request) cost more CPU than
the rest of the server's dispatch.  Here a request is a deque entry, and an
idle thread is woken through its own lock, the most recently idle first
(its stack and caches are still warm).
"""

import collections
import logging
import threading

__all__ = ["ThreadingExecutor"]

LOG = logging.getLogger(__name__)


class ThreadingExecutor:
    """Runs requests on up to ``executor_thread_pool_size`` native threads."""

    thread_name_prefix = "rpc-executor"

    def __init__(self, conf):
        # oslo.messaging's definition of the option has no lower bound.
        if conf.executor_thread_pool_size < 1:
            raise ValueError(
                "[DEFAULT] executor_thread_pool_size must be at least 1, "
                f"not {conf.executor_thread_pool_size}"
            )
        self._max_threads = conf.executor_thread_pool_size
        self._lock = threading.Lock()
        self._requests = collections.deque()
        self._idle = []  # wake-up locks of the threads waiting for a request
        self._threads = []
        self._shutdown = False

    def submit(self, fn, *args):
        """Run ``fn(*args)`` on a pool thread; RuntimeError once shut down."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot run new requests after shutdown")
            self._requests.append((fn, args))
            if self._idle:
                self._idle.pop().release()
            elif len(self._threads) < self._max_threads:
                thread = threading.Thread(
                    target=self._serve,
                    name=f"{self.thread_name_prefix}_{len(self._threads)}",
                    daemon=True,
                )
                self._threads.append(thread)
                thread.start()

    def thread_counts(self):
        """(threads started, the most it may start): for the status report."""
        return len(self._threads), self._max_threads

    def shutdown(self, wait=True):
        """Run what was submitted, then end the threads; ``wait``: until they have ended."""
        with self._lock:
            self._shutdown = True
            idle, self._idle = self._idle, []
            threads = list(self._threads)
        for wake in idle:
            wake.release()
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()

    def _serve(self):
        wake = threading.Lock()
        wake.acquire()
        requests = self._requests
        while True:
            with self._lock:
                if requests:
                    fn, args = requests.popleft()
                elif self._shutdown:
                    return
                else:
                    self._idle.append(wake)
                    fn = None
            if fn is None:
                # Released by submit() or shutdown(), possibly already.
                wake.acquire()
                continue
            try:
                fn(*args)
            except BaseException:  # noqa: BLE001 - one request never ends the thread
                LOG.exception("Unhandled error in a request on %s", threading.current_thread().name)
            # Not kept alive until the next request arrives.
            del fn, args
