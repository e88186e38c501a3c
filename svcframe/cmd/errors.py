"""How a command says it failed: ``PROG: error: MESSAGE`` on stderr, passwords masked.

Every command returns what ``fail`` returns as its exit status, so that the
wording and the masking are the same whichever command failed.
"""

import sys
import traceback

from svcframe.masking import mask_password

__all__ = ["EXIT_ERROR", "fail", "fail_with_traceback"]

#: A command that ran and failed (a configuration error is config_errors.EXIT_CONFIG).
EXIT_ERROR = 1


def fail(prog, message, status=EXIT_ERROR):
    """Write ``prog: error: message`` (any object; its ``str()``) to stderr; return ``status``."""
    print(f"{prog}: error: {mask_password(message)}", file=sys.stderr)
    return status


def fail_with_traceback(status=EXIT_ERROR):
    """Write the exception being handled as the interpreter would; return ``status``."""
    # The passwords a driver's error quotes are masked in the traceback too.
    sys.stderr.write(mask_password(traceback.format_exc()))
    return status
