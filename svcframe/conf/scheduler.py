"""[scheduler] options: the reference component that places tasks on agents."""

from oslo_config import cfg

from svcframe.conf._groups import register_group_opts

__all__ = ["GROUP", "list_opts", "register_opts"]

GROUP = "scheduler"

scheduler_group = cfg.OptGroup(GROUP, title="Scheduler", help="The scheduler component.")

scheduler_opts = [
    cfg.IntOpt(
        "workers",
        min=1,
        help="Number of scheduler processes. Default: the number of CPUs. "
        "svc-launch --workers overrides it.",
    ),
    cfg.IntOpt(
        "announcement_max_age",
        default=60,
        min=1,
        mutable=True,
        help="Seconds after which an agent's capability announcement is forgotten "
        "if it has not announced again.",
    ),
]


def register_opts(conf):
    register_group_opts(conf, scheduler_group, scheduler_opts)


def list_opts():
    return [(scheduler_group, scheduler_opts)]
