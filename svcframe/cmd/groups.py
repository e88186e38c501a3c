"""Declaring an svc-manage command group and its commands, all in one form.

A group module's ``add_parser(subparsers)`` calls ``add_group`` once, then
``add_command`` for each command, and adds each command's arguments to the
parser ``add_command`` returns.
"""

__all__ = ["add_command", "add_group"]


def add_group(subparsers, name, help, description):
    """Add the group ``name``; return the sub-parsers to add its commands to."""
    group = subparsers.add_parser(name, help=help, description=description)
    return group.add_subparsers(title="commands", metavar="COMMAND", required=True)


def add_command(commands, name, handler, help, description):
    """Add the command ``name``, run as ``handler(conf, args)``; return its parser."""
    command = commands.add_parser(name, help=help, description=description)
    command.set_defaults(handler=handler)
    return command
