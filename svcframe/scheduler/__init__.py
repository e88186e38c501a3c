"""The scheduler: places tasks on live workers (a manager.py + rpcapi.py pair)."""
