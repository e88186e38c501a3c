"""Process titles: ``svc-conductor: master (4 workers)``, ``svc-conductor: worker 2 of 4``.

With a configuration generation and digest, the title ends with them:
``svc-conductor: worker 2 of 4 [config 3 5f1c9a0e]``, so that ``ps``
shows which workers run the configuration last loaded.
"""

import os
import sys

import setproctitle

from svcframe.masking import mask_password

__all__ = ["program_name", "set_master_title", "set_single_title", "set_title", "set_worker_title"]


def program_name(service, name=None):
    """The name shown in process titles and logs.

    ``name``, else the service's ``binary`` or ``name`` attribute, else the
    program's file name.  A bare binary name (``conductor``) gets the
    ``svc-`` prefix, the way nova's binaries carry ``nova-``.
    """
    name = name or getattr(service, "binary", None) or getattr(service, "name", None)
    if not name:
        return os.path.basename(sys.argv[0]) or "svc"
    return name if "-" in name else f"svc-{name}"


def set_title(title):
    # Every local user can read a process title (ps, /proc/PID/cmdline).
    setproctitle.setproctitle(mask_password(title))


def _config(generation, digest):
    return "" if generation is None else f" [config {generation} {digest}]"


def set_single_title(name, generation=None, digest=None):
    set_title(name + _config(generation, digest))


def set_master_title(name, workers, generation=None, digest=None):
    set_title(f"{name}: master ({workers} workers)" + _config(generation, digest))


def set_worker_title(name, number, workers, generation=None, digest=None):
    set_title(f"{name}: worker {number} of {workers}" + _config(generation, digest))
