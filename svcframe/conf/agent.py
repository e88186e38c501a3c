"""[worker] options: the reference component that runs tasks."""

from oslo_config import cfg

from svcframe.conf._groups import register_group_opts

__all__ = ["ANNOUNCE_SPACING", "GROUP", "list_opts", "register_opts"]

GROUP = "worker"

#: Seconds between two capability announcements to the schedulers.
ANNOUNCE_SPACING = 10

worker_group = cfg.OptGroup(GROUP, title="Worker", help="The worker component.")

worker_opts = [
    cfg.IntOpt(
        "workers",
        min=1,
        help="Number of worker processes. Default: the number of CPUs. "
        "svc-launch --workers overrides it.",
    ),
    cfg.FloatOpt(
        "progress_interval",
        default=1.0,
        min=0.05,
        mutable=True,
        help="Seconds between two progress reports of a running task to the conductor.",
    ),
]


def register_opts(conf):
    register_group_opts(conf, worker_group, worker_opts)


def list_opts():
    return [(worker_group, worker_opts)]
