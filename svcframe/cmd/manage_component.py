"""svc-manage component: generate a new component project.

    svc-manage component new billing [--dest DIR] [--package PKG] [--force]

The same as tools/new-component (see svcframe.scaffold).
"""

from svcframe.cmd.groups import add_command, add_group
from svcframe.scaffold import cli

__all__ = ["add_parser"]


def add_parser(subparsers):
    commands = add_group(
        subparsers,
        "component",
        help="generate a new component project",
        description="Start a new component.",
    )
    new = add_command(
        commands,
        "new",
        new_component,
        help="generate a component project",
        description=cli.DESCRIPTION,
    )
    cli.add_arguments(new)


def new_component(conf, args):
    return cli.run(args, "svc-manage")
