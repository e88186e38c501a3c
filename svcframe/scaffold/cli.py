"""The command line of the scaffold, shared by tools/new-component and svc-manage."""

import argparse
import os
import pathlib
import sys

from svcframe.scaffold.generator import ScaffoldError, generate, plan

__all__ = ["add_arguments", "main", "run"]

DESCRIPTION = (
    "Generate a new svcframe component as a standalone, pip-installable project: "
    "manager.py, rpcapi.py and opts.py, a runnable etc/NAME.conf, unit and functional "
    "tests, and a pyproject.toml that registers the component for svc-launch."
)
EXIT_ERROR = 1


def add_arguments(parser):
    parser.add_argument(
        "name",
        metavar="NAME",
        help="the component's name, a lowercase identifier such as billing: its RPC "
        "topic, its [NAME] option group and svc-launch --binary NAME",
    )
    parser.add_argument(
        "--dest", metavar="DIR", help="the project directory to create (default: ./svc-NAME)"
    )
    parser.add_argument(
        "--package", metavar="PKG", help="the component's Python package (default: svc_NAME)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into DIR even if it exists: the generated files replace theirs, "
        "other files are left alone",
    )


def run(args, prog):
    """Generate the project ``args`` describe; print what was written and what to do next."""
    try:
        component = plan(args.name, package=args.package)
        dest = pathlib.Path(args.dest or component.project)
        written = generate(component, dest, force=args.force)
    except ScaffoldError as exc:
        return _fail(prog, str(exc))
    except OSError as exc:
        return _fail(prog, f"cannot write {exc.filename or dest}: {exc.strerror or exc}")

    print(f"Generated component {component.name!r} (package {component.package}) in {dest}/:")
    for path in written:
        print(f"  {path.relative_to(dest)}")
    conf = f"etc/{component.name}.conf"
    print("Next steps:")
    for comment, command in (
        (
            f"install it (registers the {component.name!r} component for svc-launch)",
            f"cd {_shell_path(dest)} && pip install -e '.[test]'",
        ),
        (
            "run it (2 workers, embedded transport, state in ./state)",
            f"svc-launch --binary {component.name} --config-file {conf}",
        ),
        (
            "call it, from another shell in the same directory",
            f"svc-manage --config-file {conf} rpc call {component.name} hello --arg name=Ada",
        ),
        ("test it (the functional tests need RabbitMQ, else they skip)", "pytest tests"),
    ):
        print(f"  # {comment}:\n  {command}")
    return 0


def _shell_path(path):
    text = os.fspath(path)
    return text if all(c.isalnum() or c in "/._-+" for c in text) else f"'{text}'"


def _fail(prog, message):
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def main(argv=None, prog="new-component"):
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args, parser.prog)
