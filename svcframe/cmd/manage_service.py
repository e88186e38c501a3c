"""svc-manage service: list services and change their administrative state."""

import json

from svcframe import servicegroup
from svcframe.cmd.table import format_table
from svcframe.conf import service as service_opts
from svcframe.servicegroup.exceptions import ServiceNotFound

__all__ = ["COLUMNS", "add_parser", "describe", "table_row"]

COLUMNS = ("Binary", "Host", "Topic", "Status", "State", "Updated At", "Disabled Reason")


def add_parser(subparsers):
    group = subparsers.add_parser(
        "service",
        help="list services, enable, disable, force down or delete them",
        description="Services as the service registry ([DEFAULT] servicegroup_driver) sees them.",
    )
    commands = group.add_subparsers(title="commands", metavar="COMMAND", required=True)

    listing = commands.add_parser(
        "list",
        help="list services and whether they are up",
        description="List services. State is up when the service reported within "
        "service_down_time and is not forced down.",
    )
    listing.add_argument("--binary", help="only services of this binary")
    listing.add_argument("--host", help="only services on this host")
    listing.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format (table)"
    )
    listing.set_defaults(handler=list_services)

    check = commands.add_parser(
        "check",
        help="exit 0 if a service is up and enabled, 1 otherwise",
        description="Check one service in the registry, for scripts and probes "
        "without HTTP: exit status 0 when it is up and enabled, 1 otherwise "
        "(down, disabled, forced down or not registered).",
    )
    check.add_argument("--host", help="host the service runs on (default: [DEFAULT] host)")
    check.add_argument("binary", metavar="BINARY", help="binary name, e.g. svc-conductor")
    check.set_defaults(handler=check_service)

    disable = commands.add_parser(
        "disable",
        help="stop offering work to a service",
        description="Disable a service: it keeps reporting, but is no longer "
        "among the hosts work is routed to.",
    )
    _add_service_arguments(disable)
    disable.add_argument("--reason", help="why, shown in the listing")
    disable.set_defaults(handler=disable_service)

    enable = commands.add_parser(
        "enable", help="offer work to a service again", description="Enable a disabled service."
    )
    _add_service_arguments(enable)
    enable.set_defaults(handler=enable_service)

    force_down = commands.add_parser(
        "force-down",
        help="report a service down whatever its heartbeats say",
        description="Mark a service down immediately, e.g. once its host is fenced, "
        "without waiting for service_down_time.",
    )
    _add_service_arguments(force_down)
    force_down.add_argument(
        "--unset", action="store_true", help="clear the mark; heartbeats decide again"
    )
    force_down.set_defaults(handler=force_down_service)

    delete = commands.add_parser(
        "delete",
        help="remove a service from the registry",
        description="Remove a service record. A service that is still running "
        "registers again at its next heartbeat: stop it first.",
    )
    _add_service_arguments(delete)
    delete.set_defaults(handler=delete_service)


def _add_service_arguments(parser):
    parser.add_argument("host", metavar="HOST", help="host the service runs on")
    parser.add_argument("binary", metavar="BINARY", help="binary name, e.g. svc-conductor")


def list_services(conf, args):
    api = servicegroup.API(conf)
    services = [describe(api, record) for record in api.get_all(args.binary, args.host)]
    if args.format == "json":
        print(json.dumps(services, indent=2))
    else:
        print(format_table(COLUMNS, [table_row(service) for service in services]))


def check_service(conf, args):
    service_opts.register_opts(conf)
    host = args.host or conf.host
    api = servicegroup.API(conf)
    try:
        record = api.get(host, args.binary)
    except ServiceNotFound:
        print(f"{args.binary} on {host}: not registered")
        return 1
    up = api.service_is_up(record)
    print(f"{args.binary} on {host}: {'up' if up else 'down'}, {record.status}")
    return 0 if up and record.status == "enabled" else 1


def disable_service(conf, args):
    servicegroup.API(conf).disable(args.host, args.binary, args.reason)


def enable_service(conf, args):
    servicegroup.API(conf).enable(args.host, args.binary)


def force_down_service(conf, args):
    servicegroup.API(conf).force_down(args.host, args.binary, not args.unset)


def delete_service(conf, args):
    servicegroup.API(conf).delete(args.host, args.binary)


def describe(api, record):
    """A service as list shows it: a JSON-ready dict with its state."""
    return {
        "binary": record.binary,
        "host": record.host,
        "topic": record.topic,
        "status": record.status,
        "state": "up" if api.service_is_up(record) else "down",
        "updated_at": _isoformat(api.get_updated_time(record)),
        "disabled_reason": record.disabled_reason,
        "forced_down": record.forced_down,
        "report_count": record.report_count,
        "last_seen_up": _isoformat(record.last_seen_up),
        "version": record.version,
        "created_at": _isoformat(record.created_at),
    }


def table_row(service):
    """The cells of a describe()d service under COLUMNS."""
    updated_at = service["updated_at"]
    return (
        service["binary"],
        service["host"],
        service["topic"],
        service["status"],
        service["state"],
        # Seconds are enough to read; JSON keeps the full value.
        updated_at[:19].replace("T", " ") if updated_at else None,
        service["disabled_reason"],
    )


def _isoformat(value):
    return value.isoformat() if value is not None else None
