"""The component the chaos tests launch: it writes down every cast it processed.

``work`` appends its cast id to a file named after the worker's pid, once
the work is done, so that the tests can count what was lost (sent, never
written down) and what was run twice (written down twice).
"""

import os
import time

from oslo_config import cfg

from svcframe import messaging
from svcframe.manager import Manager

__all__ = ["ChaosManager", "processed_ids"]

chaos_opts = [
    cfg.StrOpt("record_dir", help="Where each worker appends the ids of the casts it processed."),
]


class ChaosManager(Manager):
    target = messaging.Target(version="1.0")
    service_name = "chaos"

    def __init__(self, host=None, conf=None):
        super().__init__(host=host, conf=conf)
        self.conf.register_opts(chaos_opts, group="chaos")

    def work(self, context, cast_id, seconds=0.0):
        if seconds:
            time.sleep(seconds)
        # One short O_APPEND write per id: lines of several workers never mix.
        path = os.path.join(self.conf.chaos.record_dir, f"{os.getpid()}.ids")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{cast_id}\n".encode())
        finally:
            os.close(fd)

    def echo(self, context, value):
        return value


def processed_ids(record_dir):
    """Every id written down in ``record_dir``, in no particular order, duplicates kept."""
    ids = []
    for name in os.listdir(record_dir):
        if name.endswith(".ids"):
            with open(os.path.join(record_dir, name)) as stream:
                ids.extend(line for line in stream.read().split("\n") if line)
    return ids
