"""[conductor] options: the reference component's own group."""

from oslo_config import cfg

from svcframe.conf._groups import register_group_opts

__all__ = ["GROUP", "list_opts", "register_opts"]

GROUP = "conductor"

#: Seconds between two looks for stale tasks.
STALE_CHECK_SPACING = 10

conductor_group = cfg.OptGroup(GROUP, title="Conductor", help="The conductor component.")

conductor_opts = [
    cfg.IntOpt(
        "workers",
        min=1,
        help="Number of conductor worker processes. Default: the number of CPUs. "
        "svc-launch --workers overrides it.",
    ),
    cfg.IntOpt(
        "stale_task_after",
        default=300,
        min=1,
        mutable=True,
        help="Seconds after which a task that has not reported progress is marked stale "
        "by the conductor's periodic task. Takes effect on SIGHUP.",
    ),
]


def register_opts(conf):
    register_group_opts(conf, conductor_group, conductor_opts)


def list_opts():
    return [(conductor_group, conductor_opts)]
