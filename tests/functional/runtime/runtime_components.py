"""Components the runtime tests launch with ``svc-launch --binary NAME``.

They are registered through a ``*.dist-info`` directory the tests put on the
service's PYTHONPATH (see ``runtime_harness.install_components``), as an
installed package would register them.
"""

import logging
import os
import time

from oslo_config import cfg

from svcframe import log, messaging
from svcframe.manager import Manager

__all__ = ["BootFailureManager", "GreeterManager", "SlowpokeManager"]

LOG = logging.getLogger(__name__)

slowpoke_opts = [
    cfg.StrOpt(
        "marker_dir",
        help="Where sleep() leaves a file named after its token as soon as it starts.",
    ),
    cfg.StrOpt("mood", default="calm", mutable=True, help="Reported by describe()."),
]

BOOT_FAILURE = "the frobnicator device /dev/frob0 is not attached"


class SlowpokeManager(Manager):
    """A manager with a method that takes as long as the caller asks."""

    target = messaging.Target(version="1.0")
    service_name = "slowpoke"

    def __init__(self, host=None, conf=None):
        super().__init__(host=host, conf=conf)
        self.conf.register_opts(slowpoke_opts, group="slowpoke")

    def sleep(self, context, seconds, token=None):
        started = time.time()
        marker_dir = self.conf.slowpoke.marker_dir
        if token is not None and marker_dir:
            with open(os.path.join(marker_dir, token), "w") as stream:
                stream.write(str(os.getpid()))
        time.sleep(seconds)
        return {
            "pid": os.getpid(),
            "worker": log.get_worker_tag(),
            "token": token,
            "started": started,
            "finished": time.time(),
        }

    def describe(self, context):
        return {
            "host": self.host,
            "pid": os.getpid(),
            "worker": log.get_worker_tag(),
            "mood": self.conf.slowpoke.mood,
        }


class BootFailureManager(Manager):
    """A manager whose host can never be prepared: every worker fails to boot."""

    service_name = "bootfail"

    def init_host(self, service_ref=None):
        raise RuntimeError(BOOT_FAILURE)


greeter_opts = [
    cfg.StrOpt("greeting", default="Hello", mutable=True, help="What hello() greets with."),
]


class GreeterManager(Manager):
    """Caches its option the way the component guide advises: read in __init__, again in reset()."""

    service_name = "greeter"

    def __init__(self, host=None, conf=None):
        super().__init__(host=host, conf=conf)
        self.conf.register_opts(greeter_opts, group="greeter")
        self.greeting = self.conf.greeter.greeting

    def reset(self):
        self.greeting = self.conf.greeter.greeting

    def hello(self, context):
        LOG.debug("Greeting with %r", self.greeting)
        return {
            "greeting": self.greeting,
            "pid": os.getpid(),
            "debug": logging.getLogger().isEnabledFor(logging.DEBUG),
        }


class InitFailureManager(Manager):
    """A manager that cannot even be built, in the launching process."""

    service_name = "initfail"

    def __init__(self, host=None, conf=None):
        raise RuntimeError(BOOT_FAILURE)
