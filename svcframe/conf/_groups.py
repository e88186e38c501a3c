"""Registering a group's options without sharing state between ConfigOpts objects."""

from oslo_config import cfg

__all__ = ["register_group_opts"]


def register_group_opts(conf, group, opts):
    """Register ``opts`` under ``group`` on ``conf``, through a copy of the group.

    oslo.config keeps a group's values (set_override included) on the
    OptGroup object it was given, so registering one module-level group on
    several ConfigOpts would leak one's overrides into every other.
    """
    conf.register_group(cfg.OptGroup(group.name, title=group.title, help=group.help))
    conf.register_opts(opts, group=group.name)
