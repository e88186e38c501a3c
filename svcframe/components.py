"""The component registry: binary names to manager classes, through entry points.

A component registers its manager class in the ``svcframe.components``
namespace; ``svc-launch --binary conductor`` and ``--binary svc-conductor``
both find ``conductor``.  A renamed component keeps its old name working
for one release (DEPRECATED_NAMES): ``--binary worker`` finds ``agent``.
"""

import importlib.metadata

from stevedore import driver
from stevedore.exception import NoMatches

__all__ = [
    "DEPRECATED_NAMES",
    "NAMESPACE",
    "ComponentLoadError",
    "ComponentNotFound",
    "component_name",
    "group_opts",
    "load_manager_class",
    "names",
    "renamed_to",
    "resolve",
]

NAMESPACE = "svcframe.components"
#: Where packages list their options for oslo-config-generator.
OPTS_NAMESPACE = "oslo.config.opts"
BINARY_PREFIX = "svc-"

#: Old component name -> new one, for components renamed in this release.
#: The old name still launches the component; its services keep the binary
#: name they were registered under (``svc-worker``).
DEPRECATED_NAMES = {"worker": "agent"}


class ComponentNotFound(LookupError):
    """No installed component has that name."""


class ComponentLoadError(ImportError):
    """The component is registered but its manager class cannot be imported."""


def component_name(binary):
    """``svc-conductor`` -> ``conductor``; the topic a binary serves by default."""
    return binary[len(BINARY_PREFIX) :] if binary.startswith(BINARY_PREFIX) else binary


def names():
    """The names of every installed component, sorted."""
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=NAMESPACE)})


def renamed_to(binary):
    """The new name when ``binary`` is a deprecated component name, else None.

    An installed component of that name wins over the deprecation.
    """
    name = component_name(binary)
    if name in DEPRECATED_NAMES and name not in names():
        return DEPRECATED_NAMES[name]
    return None


def resolve(binary):
    """The name of the component ``binary`` runs: ``svc-worker`` -> ``agent``."""
    return renamed_to(binary) or component_name(binary)


def load_manager_class(binary):
    """The manager class registered for ``binary`` (with or without the svc- prefix).

    A deprecated name loads the component's new name.
    """
    name = resolve(binary)

    def failed(manager, entrypoint, exc):
        raise ComponentLoadError(
            f"Component {name!r} is registered as {entrypoint.value!r} but cannot be "
            f"loaded: {type(exc).__name__}: {exc}"
        ) from exc

    if name not in names():
        available = ", ".join(names()) or "none"
        raise ComponentNotFound(
            f"No component named {name!r} is installed (installed: {available}). A component "
            f"registers its manager class under the {NAMESPACE!r} entry point namespace."
        )
    try:
        return driver.DriverManager(
            NAMESPACE, name, invoke_on_load=False, on_load_failure_callback=failed
        ).driver
    except NoMatches:
        raise ComponentNotFound(f"Component {name!r} vanished while being loaded") from None


def group_opts(group):
    """``(OptGroup, opts)`` of the config group named ``group``, or None.

    Looked up in what the packages that install components list for
    oslo-config-generator (their ``oslo.config.opts`` entry points), so a
    component's options can be registered before its manager is built.
    """
    packages = {_package(ep) for ep in importlib.metadata.entry_points(group=NAMESPACE)}
    for entry_point in importlib.metadata.entry_points(group=OPTS_NAMESPACE):
        if _package(entry_point) not in packages:
            continue
        for opt_group, opts in entry_point.load()():
            if getattr(opt_group, "name", opt_group) == group:
                return opt_group, opts
    return None


def _package(entry_point):
    return entry_point.dist.name if entry_point.dist is not None else None
