"""Heartbeat load for the concurrency tests, run as a separate process.

    reporter.py CONFIG_FILE hammer HOST BINARY THREADS REPORTS
        THREADS threads each send REPORTS heartbeats for (HOST, BINARY) back
        to back, then each for its own (HOST-<pid>-<n>, BINARY).
    reporter.py CONFIG_FILE join HOST BINARY THREADS SECONDS
        THREADS memberships join (HOST, BINARY) and report for SECONDS.

Exits 1 if any report raised or anything was logged at WARNING or above.
"""

import logging
import os
import sys
import threading
import time

from svcframe import servicegroup
from svcframe.cmd.manage import load_config


class _Count(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(self.format(record))


def main(config_file, mode, host, binary, threads, amount):
    problems = _Count()
    logging.getLogger().addHandler(problems)
    api = servicegroup.API(load_config([config_file], []))
    errors = []
    start = threading.Barrier(int(threads))

    def hammer(n):
        start.wait()
        try:
            for _ in range(int(amount)):
                api.driver.report(host, binary)
            for _ in range(int(amount)):
                api.driver.report(f"{host}-{os.getpid()}-{n}", binary)
        except Exception as exc:
            errors.append(repr(exc))

    def join(n):
        start.wait()
        membership = api.join(host, binary)
        time.sleep(float(amount))
        membership.stop()

    workers = [
        threading.Thread(target=hammer if mode == "hammer" else join, args=(n,))
        for n in range(int(threads))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    api.close()
    for line in errors + problems.messages:
        print(line, file=sys.stderr)
    return 1 if errors or problems.messages else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
