"""Executors: where an RPC server runs each request.

An executor is built with the service's ConfigOpts and offers
``submit(fn, *args)`` and ``shutdown(wait=True)``. They are loaded by name
from the ``svcframe.executors`` entry point namespace.
"""
