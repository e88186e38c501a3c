"""[DEFAULT] state_path: where a service keeps its state on this host.

Several parts keep files there (the embedded transport's queues, the
default SQLite service registry), so the option has this module of its
own, which registers nothing else.
"""

import os

from oslo_config import cfg

__all__ = ["default_state_path", "list_opts", "register_opts"]


def default_state_path():
    """Where a service keeps its local state when nothing else is set."""
    if os.geteuid() == 0:
        return "/var/lib/svcframe"
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "svcframe")


path_opts = [
    cfg.StrOpt(
        "state_path",
        default=default_state_path(),
        sample_default="~/.local/state/svcframe (/var/lib/svcframe as root)",
        help="Top-level directory for the state a service keeps on this host: "
        "the embedded transport's queues and the default SQLite service registry. "
        "A relative path is relative to the directory of the config file that sets it.",
    ),
]


def register_opts(conf):
    conf.register_opts(path_opts)


def list_opts():
    return [(None, path_opts)]
