"""[upgrade_levels]: the highest RPC version clients send to each component.

During a rolling upgrade, set ``[upgrade_levels] <component>`` on the
upgraded services to the release (or version) of the oldest ones still
running, so that new clients keep sending messages old servers understand.
Each component's client (svcframe.rpcapi.RPCAPI) registers its own option.
"""

from oslo_config import cfg

from svcframe.conf._groups import register_group_opts

__all__ = ["GROUP", "KNOWN_COMPONENTS", "list_opts", "register_component"]

GROUP = "upgrade_levels"

upgrade_levels_group = cfg.OptGroup(
    GROUP,
    title="Upgrade levels",
    help="Cap the RPC version sent to each component during a rolling upgrade: "
    "a release name (an alias the component defines) or a version such as 1.2. "
    "Unset sends the newest version this code speaks.",
)

#: Components shipped with svcframe, listed in the sample configuration.
KNOWN_COMPONENTS = ("baseapi", "conductor", "scheduler", "agent")

# The option of a renamed component still reads its old name, for one release.
_DEPRECATED_NAMES = {"agent": "worker"}


def _opt(name):
    old = _DEPRECATED_NAMES.get(name)
    return cfg.StrOpt(
        name,
        deprecated_opts=[cfg.DeprecatedOpt(old, group=GROUP)] if old else None,
        help=f"RPC version cap for the {name} API: a release name or a version (e.g. 1.1).",
    )


def register_component(conf, name):
    """Register ``[upgrade_levels] <name>`` on ``conf`` (idempotent)."""
    register_group_opts(conf, upgrade_levels_group, [_opt(name)])


def list_opts():
    return [(upgrade_levels_group, [_opt(name) for name in KNOWN_COMPONENTS])]
