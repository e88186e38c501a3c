"""svc-manage service: list services and change their administrative state."""

import functools
import json

from svcframe import components, servicegroup
from svcframe.cmd.groups import add_command, add_group
from svcframe.cmd.table import format_table
from svcframe.conf import service as service_opts
from svcframe.servicegroup import ServiceNotFound

__all__ = ["COLUMNS", "add_parser", "describe", "format_version", "table_row"]

COLUMNS = (
    "Binary",
    "Host",
    "Topic",
    "Status",
    "State",
    "Version",
    "Updated At",
    "Disabled Reason",
)


def add_parser(subparsers):
    commands = add_group(
        subparsers,
        "service",
        help="list services, enable, disable, force down or delete them",
        description="Services as the service registry ([DEFAULT] servicegroup_driver) sees them.",
    )

    listing = add_command(
        commands,
        "list",
        list_services,
        help="list services and whether they are up",
        description="List services. State is up when the service reported within "
        "service_down_time and is not forced down.",
    )
    listing.add_argument("--binary", help="only services of this binary")
    listing.add_argument("--host", help="only services on this host")
    listing.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format (table)"
    )

    check = add_command(
        commands,
        "check",
        check_service,
        help="exit 0 if a service is up and enabled, 1 otherwise",
        description="Check one service in the registry, for scripts and probes "
        "without HTTP: exit status 0 when it is up and enabled, 1 otherwise "
        "(down, disabled, forced down or not registered).",
    )
    check.add_argument("--host", help="host the service runs on (default: [DEFAULT] host)")
    check.add_argument("binary", metavar="BINARY", help=_BINARY_HELP)

    disable = _add_service_command(
        commands,
        "disable",
        disable_service,
        help="stop offering work to a service",
        description="Disable a service: it keeps reporting, but is no longer "
        "among the hosts work is routed to.",
    )
    disable.add_argument("--reason", help="why, shown in the listing")

    _add_service_command(
        commands,
        "enable",
        enable_service,
        help="offer work to a service again",
        description="Enable a disabled service.",
    )

    force_down = _add_service_command(
        commands,
        "force-down",
        force_down_service,
        help="report a service down whatever its heartbeats say",
        description="Mark a service down immediately, e.g. once its host is fenced, "
        "without waiting for service_down_time.",
    )
    force_down.add_argument(
        "--unset", action="store_true", help="clear the mark; heartbeats decide again"
    )

    _add_service_command(
        commands,
        "delete",
        delete_service,
        help="remove a service from the registry",
        description="Remove a service record. A service that is still running "
        "registers again at its next heartbeat: stop it first.",
    )


_BINARY_HELP = "binary name, as launched (conductor) or registered"


def _add_service_command(commands, name, handler, help, description):
    """A command on the service BINARY on HOST."""
    command = add_command(commands, name, handler, help=help, description=description)
    command.add_argument("host", metavar="HOST", help="host the service runs on")
    command.add_argument("binary", metavar="BINARY", help=_BINARY_HELP)
    return command


def binary_names(binary):
    """The registered names ``binary`` may mean: itself, and svc-<binary> as svc-launch names it."""
    registered = components.BINARY_PREFIX + binary
    return (binary,) if binary.startswith(components.BINARY_PREFIX) else (binary, registered)


def _registered(api, host, binary):
    """The binary name ``binary`` on ``host`` is registered under; ServiceNotFound if none."""
    for name in binary_names(binary):
        try:
            return api.get(host, name).binary
        except ServiceNotFound:
            continue
    raise ServiceNotFound(host, binary)


def list_services(conf, args):
    api = servicegroup.API(conf)
    records = api.get_all(host=args.host)
    if args.binary is not None:
        names = binary_names(args.binary)
        records = [record for record in records if record.binary in names]
    services = [describe(api, record) for record in records]
    if args.format == "json":
        print(json.dumps(services, indent=2))
    else:
        print(format_table(COLUMNS, [table_row(service) for service in services]))


def check_service(conf, args):
    service_opts.register_opts(conf)
    host = args.host or conf.host
    api = servicegroup.API(conf)
    try:
        record = api.get(host, _registered(api, host, args.binary))
    except ServiceNotFound:
        print(f"{args.binary} on {host}: not registered")
        return 1
    up = api.service_is_up(record)
    print(f"{record.binary} on {host}: {'up' if up else 'down'}, {record.status}")
    return 0 if up and record.status == "enabled" else 1


def _registered_service(handler):
    """A HOST BINARY command: ``handler(api, binary, args)``, ``binary`` as it is registered."""

    @functools.wraps(handler)
    def command(conf, args):
        api = servicegroup.API(conf)
        return handler(api, _registered(api, args.host, args.binary), args)

    return command


@_registered_service
def disable_service(api, binary, args):
    api.disable(args.host, binary, args.reason)
    reason = f" (reason: {args.reason})" if args.reason else ""
    print(f"Disabled {binary} on {args.host}{reason}: no new work is routed to it.")


@_registered_service
def enable_service(api, binary, args):
    api.enable(args.host, binary)
    print(f"Enabled {binary} on {args.host}.")


@_registered_service
def force_down_service(api, binary, args):
    api.force_down(args.host, binary, not args.unset)
    if args.unset:
        print(f"Cleared the forced down mark of {binary} on {args.host}: heartbeats decide again.")
    else:
        print(f"Forced {binary} on {args.host} down.")


@_registered_service
def delete_service(api, binary, args):
    api.delete(args.host, binary)
    print(f"Deleted {binary} on {args.host} from the service registry.")


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
        "release": record.release,
        "rpc_api_version": record.rpc_api_version,
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
        format_version(service["rpc_api_version"], service["release"]),
        # Seconds are enough to read; JSON keeps the full value.
        updated_at[:19].replace("T", " ") if updated_at else None,
        service["disabled_reason"],
    )


def format_version(api_version, release):
    """``1.1 (beta)``: the RPC API version a service serves, and its release."""
    if api_version and release:
        return f"{api_version} ({release})"
    return api_version or release


def _isoformat(value):
    return value.isoformat() if value is not None else None
