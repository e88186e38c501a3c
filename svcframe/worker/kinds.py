"""Deprecated alias of svcframe.agent.kinds."""

from svcframe.agent.kinds import KINDS, MAX_SLEEP_SECONDS, UnknownTaskKind
from svcframe.worker import warn_renamed

__all__ = ["KINDS", "MAX_SLEEP_SECONDS", "UnknownTaskKind"]

warn_renamed("svcframe.worker.kinds", "svcframe.agent.kinds")
