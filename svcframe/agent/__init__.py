"""The worker: runs tasks the scheduler casts to it (a manager.py + rpcapi.py pair)."""
