"""Exceptions raised by the interop endpoints.

Clients list this module in ``allowed_remote_exmods``, so both oslo.messaging
and svcframe re-raise these as themselves; it is on the PYTHONPATH of every
peer process.
"""


class InteropError(Exception):
    """An application error with a keyword argument, as nova's exceptions have."""

    def __init__(self, message="interop failure", code=None):
        super().__init__(message)
        self.kwargs = {"code": code}
        self.code = code
