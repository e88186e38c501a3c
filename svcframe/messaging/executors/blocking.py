"""BlockingExecutor: requests run one at a time in the listener's own thread."""

__all__ = ["BlockingExecutor"]


class BlockingExecutor:
    """Runs each request inline, so the next one is not received before it ends."""

    def __init__(self, conf):
        self.conf = conf

    def submit(self, fn, *args):
        fn(*args)

    def shutdown(self, wait=True):
        """Nothing to wait for: a request ends before the listener takes the next."""
