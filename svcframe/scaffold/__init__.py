"""Scaffolding: a new component as a standalone, pip-installable project.

    tools/new-component billing [--dest DIR] [--package PKG] [--force]
    svc-manage component new billing [...]

Both run ``svcframe.scaffold.cli``. The project holds the component's
``manager.py``, ``rpcapi.py`` and ``opts.py`` (in the style of the
conductor), a runnable ``etc/NAME.conf``, unit and functional tests on the
svc_* fixtures, and a ``pyproject.toml`` that registers the component in the
``svcframe.components`` entry point namespace, so that once installed
``svc-launch --binary NAME`` runs it.  The files are rendered with
``string.Template`` from ``templates/``, shipped as package data.
"""

from svcframe.scaffold import generator
from svcframe.scaffold.generator import *  # noqa: F403 - exactly the generator's __all__

# One list, so that the package's face and the generator's cannot drift.
__all__ = list(generator.__all__)
