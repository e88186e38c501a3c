"""The agent: runs tasks the scheduler casts to it (a manager.py + rpcapi.py pair).

Named "worker" before; ``svc-launch --binary worker`` still runs it, for
one release (see svcframe.components.DEPRECATED_NAMES).
"""
