"""svc-manage component: generate a new component project.

    svc-manage component new billing [--dest DIR] [--package PKG] [--force]

The same as tools/new-component (see svcframe.scaffold).
"""

from svcframe.scaffold import cli

__all__ = ["add_parser"]


def add_parser(subparsers):
    group = subparsers.add_parser(
        "component",
        help="generate a new component project",
        description="Start a new component.",
    )
    commands = group.add_subparsers(title="commands", metavar="COMMAND", required=True)
    new = commands.add_parser(
        "new", help="generate a component project", description=cli.DESCRIPTION
    )
    cli.add_arguments(new)
    new.set_defaults(handler=new_component)


def new_component(conf, args):
    return cli.run(args, "svc-manage")
