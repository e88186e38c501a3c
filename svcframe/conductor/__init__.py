"""The conductor: the reference component (a manager.py + rpcapi.py pair)."""
