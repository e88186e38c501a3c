"""Deprecated alias of svcframe.conf.agent: the [worker] options are [agent] options now."""

import warnings

from svcframe.conf.agent import ANNOUNCE_SPACING, GROUP, list_opts, register_opts

__all__ = ["ANNOUNCE_SPACING", "GROUP", "list_opts", "register_opts"]

warnings.warn(
    "svcframe.conf.worker is deprecated: the worker component is now the agent; "
    "use svcframe.conf.agent",
    DeprecationWarning,
    stacklevel=2,
)
