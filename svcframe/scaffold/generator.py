"""Validate a component's name, render the templates, write the project."""

import dataclasses
import importlib.metadata
import importlib.resources
import importlib.util
import keyword
import pathlib
import re
import string
import sys

import svcframe
from svcframe import components

__all__ = [
    "FILES",
    "Component",
    "ScaffoldError",
    "default_package",
    "generate",
    "plan",
    "render",
    "validate_name",
    "validate_package",
]

#: A component name: a lowercase identifier, at most MAX_NAME_LENGTH characters
#: (the generated code keeps to 100 columns with names that long).
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
MAX_NAME_LENGTH = 24
PACKAGE_PATTERN = re.compile(r"[a-z_][a-z0-9_]*")
MAX_PACKAGE_LENGTH = 32

#: Each generated file: its template in templates/ and its path in the project.
#: The paths are templates too ($name, $package).
FILES = (
    ("pyproject.toml.tmpl", "pyproject.toml"),
    ("README.md.tmpl", "README.md"),
    ("gitignore.tmpl", ".gitignore"),
    ("package_init.py.tmpl", "$package/__init__.py"),
    ("manager.py.tmpl", "$package/manager.py"),
    ("rpcapi.py.tmpl", "$package/rpcapi.py"),
    ("opts.py.tmpl", "$package/opts.py"),
    ("component.conf.tmpl", "etc/$name.conf"),
    ("test_unit.py.tmpl", "tests/test_${name}_unit.py"),
    ("test_functional.py.tmpl", "tests/test_${name}_functional.py"),
)


class ScaffoldError(Exception):
    """A name, package or destination that cannot be used; the message is one line."""


@dataclasses.dataclass(frozen=True)
class Component:
    """What the templates need to know about the component to generate."""

    #: The component name: RPC topic, [name] option group, ``svc-launch --binary name``.
    name: str
    #: The Python package that holds manager.py, rpcapi.py and opts.py.
    package: str

    @property
    def class_prefix(self):
        """``billing`` -> ``Billing``, ``task_queue`` -> ``TaskQueue``."""
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def title(self):
        """``task_queue`` -> ``Task queue``: the name in prose."""
        return self.name.replace("_", " ").capitalize()

    @property
    def project(self):
        """The distribution name and the default project directory."""
        return f"svc-{self.name}"

    def substitutions(self):
        return {
            "name": self.name,
            "package": self.package,
            "Class": self.class_prefix,
            "Title": self.title,
            "project": self.project,
            "svcframe_version": svcframe.__version__,
        }


def default_package(name):
    """The package a component gets unless --package says otherwise."""
    return f"svc_{name}"


def validate_name(name):
    """Raise ScaffoldError unless ``name`` can name a component."""
    if not NAME_PATTERN.fullmatch(name):
        raise ScaffoldError(
            f"invalid component name {name!r}: use a lowercase identifier that starts with "
            "a letter (letters, digits and underscores), e.g. billing"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise ScaffoldError(
            f"invalid component name {name!r}: at most {MAX_NAME_LENGTH} characters"
        )
    if keyword.iskeyword(name):
        raise ScaffoldError(f"invalid component name {name!r}: it is a Python keyword")
    for entry_point in importlib.metadata.entry_points(group=components.NAMESPACE):
        if entry_point.name == name:
            raise ScaffoldError(
                f"a component named {name!r} is already installed ({entry_point.value}); "
                "pick another name"
            )
    if name in components.DEPRECATED_NAMES:
        # Installed, it would take the name from the component it still launches.
        raise ScaffoldError(
            f"component name {name!r} is the deprecated name of the "
            f"{components.DEPRECATED_NAMES[name]} component and still launches it; "
            "pick another name"
        )


def validate_package(package):
    """Raise ScaffoldError unless ``package`` can name the component's new package."""
    if not PACKAGE_PATTERN.fullmatch(package) or keyword.iskeyword(package):
        raise ScaffoldError(
            f"invalid package name {package!r}: use a lowercase Python identifier, e.g. svc_billing"
        )
    if len(package) > MAX_PACKAGE_LENGTH:
        raise ScaffoldError(
            f"invalid package name {package!r}: at most {MAX_PACKAGE_LENGTH} characters"
        )
    if package in sys.stdlib_module_names or package == "svcframe":
        raise ScaffoldError(f"package name {package!r} is taken by {package}; pick another")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        where = spec.origin or ", ".join(spec.submodule_search_locations or ()) or "?"
        raise ScaffoldError(
            f"a package named {package!r} is already importable ({where}); "
            "pick another with --package"
        )


def plan(name, package=None):
    """The Component for ``name`` (and ``package``), or ScaffoldError."""
    validate_name(name)
    package = package or default_package(name)
    validate_package(package)
    return Component(name=name, package=package)


def _template(filename):
    return (
        importlib.resources.files("svcframe.scaffold")
        .joinpath("templates", filename)
        .read_text(encoding="utf-8")
    )


def render(component):
    """``{relative path: text}`` of every file of the project, in FILES order."""
    values = component.substitutions()
    return {
        string.Template(path).substitute(values): string.Template(_template(filename)).substitute(
            values
        )
        for filename, path in FILES
    }


def generate(component, dest, force=False):
    """Write the project into ``dest``; returns the paths written, in FILES order.

    ``dest`` must not exist, or be an empty directory; with ``force`` an
    existing directory is written into, the generated files replacing theirs
    and every other file left alone.
    """
    dest = pathlib.Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ScaffoldError(f"{dest} exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise ScaffoldError(
            f"directory {dest} already exists; use --force to write the generated files "
            "into it (other files are left alone)"
        )
    files = render(component)
    written = []
    for relative, text in files.items():
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
