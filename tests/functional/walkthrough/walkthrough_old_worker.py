"""The agent of the previous release, which called it worker and speaks its API 1.0 only.

Run as a script, ``python walkthrough_old_worker.py --config-file F``: it
serves the ``worker`` topic and registers as ``svc-worker`` on ``[DEFAULT]
host``, as that release did, so that schedulers take it for an agent.
"""

import sys

from oslo_config import cfg

from svcframe import log, messaging, service
from svcframe.agent.manager import AgentManager

__all__ = ["OldWorkerManager"]


class OldWorkerManager(AgentManager):
    """API 1.0: ``run_task(task)``, without progress_interval; 1.1 calls are refused."""

    target = messaging.Target(version="1.0")
    release = "alpha"

    def run_task(self, context, task):
        super().run_task(context, task)


def main(argv=None):
    conf = cfg.CONF
    log.register_options(conf)
    service.register_opts(conf)
    conf(
        sys.argv[1:] if argv is None else argv,
        project="svcframe",
        prog="svc-worker",
        default_config_files=[],
    )
    server = service.Service.create(
        binary="svc-worker", topic="worker", manager=OldWorkerManager, conf=conf
    )
    log.setup(conf, "svcframe")
    service.serve(server, workers=1)
    return service.wait()


if __name__ == "__main__":
    sys.exit(main())
