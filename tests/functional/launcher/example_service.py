"""A service for the launcher's functional tests: fake requests, no broker.

    python example_service.py multi|single|bootfail --config-file FILE

A "request" is a file dropped in ``[example] jobs_dir``.  A worker claims it
by renaming it into ``claimed/``, works on it for ``job_seconds`` in a thread
of its own (at most ``max_inflight`` at a time), then writes its reply: a
file of the same name in ``results/`` holding the worker's pid.  ``start()``
and ``reset()`` write the options they see to ``state/``.
"""

import logging
import os
import sys
import threading
import time
from concurrent import futures

from oslo_config import cfg

from svcframe import log
from svcframe.launcher import ServiceBase, launch

LOG = logging.getLogger("example")

example_opts = [
    cfg.StrOpt("jobs_dir", required=True),
    cfg.FloatOpt("job_seconds", default=1.0),
    cfg.IntOpt("max_inflight", default=32),
    cfg.StrOpt("color", default="red", mutable=True),
    cfg.StrOpt("flavor", default="vanilla"),
]


class ExampleService(ServiceBase):
    binary = "example"

    def __init__(self, conf, fail_start=False):
        self.conf = conf
        self.fail_start = fail_start

    def _path(self, *parts):
        return os.path.join(self.conf.example.jobs_dir, *parts)

    def _write_state(self, what):
        path = self._path("state", f"{what}-{os.getpid()}")
        self._write(path, f"{self.conf.example.color} {self.conf.example.flavor}\n")

    @staticmethod
    def _write(path, text):
        # Readers poll these files: they must never see one half written.
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)

    def start(self):
        if self.fail_start:
            raise ConnectionRefusedError("broker refused the connection")
        self._stopping = threading.Event()
        self._slots = threading.Semaphore(self.conf.example.max_inflight)
        self._pool = futures.ThreadPoolExecutor(max_workers=self.conf.example.max_inflight)
        self._consumer = threading.Thread(target=self._consume, daemon=True)
        self._consumer.start()
        self._write_state("start")

    def _consume(self):
        while not self._stopping.is_set():
            if not self._slots.acquire(timeout=0.02):
                continue
            if not self._claim():
                self._slots.release()
                self._stopping.wait(0.02)

    def _claim(self):
        for name in sorted(os.listdir(self._path())):
            if not name.startswith("job-"):
                continue
            try:
                os.rename(self._path(name), self._path("claimed", name))
            except FileNotFoundError:
                continue
            self._pool.submit(self._work, name)
            return True
        return False

    def _work(self, name):
        try:
            time.sleep(self.conf.example.job_seconds)
            self._write(self._path("results", name), f"{os.getpid()}\n")
        finally:
            self._slots.release()

    def stop(self):
        self._stopping.set()

    def wait(self):
        self._consumer.join()
        self._pool.shutdown(wait=True)

    def reset(self):
        LOG.info("reset: color=%s", self.conf.example.color)
        self._write_state("reset")


def main(argv):
    scenario, args = argv[0], argv[1:]
    conf = cfg.ConfigOpts()
    log.register_options(conf)
    conf.register_opts(example_opts, group="example")
    conf(args, project="svcframe-example")
    log.setup(conf, "svcframe-example")
    workers = 1 if scenario == "single" else None
    service = ExampleService(conf, fail_start=scenario == "bootfail")
    return launch(conf, service, workers=workers).wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
