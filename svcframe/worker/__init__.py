"""Deprecated: the worker component is now the agent, in svcframe.agent.

These modules keep imports written for the old name working for one
release; each warns once, on import.
"""

import warnings

__all__ = []


def warn_renamed(old, new):
    warnings.warn(
        f"{old} is deprecated: the worker component is now the agent; use {new}",
        DeprecationWarning,
        stacklevel=3,
    )
