"""svc-manage db: create and upgrade the service registry database."""

from svcframe.cmd.groups import add_command, add_group
from svcframe.conf import database as database_conf
from svcframe.conf import servicegroup as servicegroup_conf
from svcframe.servicegroup.drivers.db import DbDriver

__all__ = ["add_parser"]


def add_parser(subparsers):
    commands = add_group(
        subparsers,
        "db",
        help="create or upgrade the service registry database",
        description="The database of the db servicegroup driver ([database] connection).",
    )
    add_command(
        commands,
        "sync",
        sync_schema,
        help="create the schema or upgrade it to the latest version",
        description="Create the services table, or apply the migrations the "
        "database lacks. Safe to run again and from several hosts at once.",
    )
    add_command(
        commands,
        "version",
        show_version,
        help="show the schema version of the database",
        description="Print the schema version the database has and the one this code needs.",
    )


def sync_schema(conf, args):
    registry = _registry(conf)
    before, after = registry.sync_schema()
    if before == after:
        print(f"{registry.location}: schema already at version {after}")
    else:
        print(f"{registry.location}: schema upgraded from version {before} to {after}")


def show_version(conf, args):
    registry = _registry(conf)
    print(f"{registry.schema_version()} (latest {DbDriver.LATEST_SCHEMA_VERSION})")


def _registry(conf):
    servicegroup_conf.register_opts(conf)
    database_conf.register_opts(conf)
    return DbDriver(conf, service_down_time=conf.service_down_time)
