"""[agent] options: the reference component that runs tasks.

The group was [worker] when the component was; options set there are
still read, for one release, with a deprecation warning.
"""

from oslo_config import cfg

from svcframe.conf._groups import register_group_opts

__all__ = ["ANNOUNCE_SPACING", "DEPRECATED_GROUP", "GROUP", "list_opts", "register_opts"]

GROUP = "agent"
DEPRECATED_GROUP = "worker"

#: Seconds between two capability announcements to the schedulers.
ANNOUNCE_SPACING = 10

agent_group = cfg.OptGroup(
    GROUP,
    title="Agent",
    help="The agent component. Its options were in [worker], which is still read "
    "(deprecated) when [agent] does not set them.",
)

agent_opts = [
    cfg.IntOpt(
        "workers",
        min=1,
        deprecated_group=DEPRECATED_GROUP,
        help="Number of agent worker processes. Default: the number of CPUs. "
        "svc-launch --workers overrides it.",
    ),
    cfg.FloatOpt(
        "progress_interval",
        default=1.0,
        min=0.05,
        mutable=True,
        deprecated_group=DEPRECATED_GROUP,
        help="Seconds between two progress reports of a running task to the conductor.",
    ),
]


def register_opts(conf):
    register_group_opts(conf, agent_group, agent_opts)


def list_opts():
    return [(agent_group, agent_opts)]
