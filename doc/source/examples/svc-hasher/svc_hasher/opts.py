"""The [hasher] options."""

from oslo_config import cfg

GROUP = "hasher"

hasher_opts = [
    cfg.IntOpt(
        "workers",
        min=1,
        help="Number of worker processes. Default: the number of CPUs. "
        "svc-launch --workers overrides it.",
    ),
    cfg.StrOpt(
        "default_algorithm",
        default="sha256",
        mutable=True,
        help="Algorithm digest() uses when the caller names none. Takes effect on SIGHUP.",
    ),
]


def _group():
    return cfg.OptGroup(GROUP, title="Hasher", help="The hasher component.")


def register_opts(conf):
    # A new OptGroup for each ConfigOpts: oslo.config keeps overrides on the
    # group object, so a shared one would leak them between ConfigOpts.
    conf.register_group(_group())
    conf.register_opts(hasher_opts, group=GROUP)


def list_opts():
    return [(_group(), hasher_opts)]
