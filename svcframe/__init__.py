"""svcframe: a Nova-style multi-process service runtime.

The names a service is written with::

    from svcframe import RPCAPI, Manager, Service, serve, wait

``Manager`` (the server side of a component), ``RPCAPI`` (its client side),
``Service`` (a manager served over RPC, with heartbeats and periodic
tasks), ``serve(service, workers)`` and ``wait()``.  Everything else lives
in the subpackages (``svcframe.messaging``, ``svcframe.servicegroup``,
``svcframe.launcher``, ``svcframe.testing``...).
"""

import importlib

__version__ = "0.1.0"
__all__ = ["RPCAPI", "Manager", "Service", "__version__", "serve", "wait"]

# Imported on first use: importing any svcframe module runs this file, and
# most (svc-manage, the config modules, eventlet users who must patch first)
# need none of the messaging stack these names bring in.
_FACE = {
    "Manager": "svcframe.manager",
    "RPCAPI": "svcframe.rpcapi",
    "Service": "svcframe.service",
    "serve": "svcframe.service",
    "wait": "svcframe.service",
}


def __getattr__(name):
    try:
        module = _FACE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
