"""svc-manage rpc: ping, call and cast any topic from the command line.

    svc-manage rpc ping conductor --all
    svc-manage rpc call conductor describe --server node1
    svc-manage rpc cast worker run_task --arg task_id=42 --arg options='{"fast": true}'

``--arg KEY=VALUE`` takes VALUE as JSON when it parses as JSON (numbers,
true, null, lists, objects, quoted strings) and as a plain string
otherwise.
"""

import concurrent.futures
import json
import time

from svcframe import baserpc, context, messaging, servicegroup
from svcframe.cmd import errors
from svcframe.cmd.groups import add_command, add_group
from svcframe.cmd.manage_service import format_version
from svcframe.cmd.table import format_table
from svcframe.conf import sources

__all__ = ["add_parser"]

PING_TIMEOUT = 5.0
# What a ping reply tells of the configuration (see svcframe.launcher.running_config).
_CONFIG_KEYS = ("config_generation", "config_digest", "config_workers")
EXIT_ERROR = errors.EXIT_ERROR


def add_parser(subparsers):
    commands = add_group(
        subparsers,
        "rpc",
        help="ping, call or cast a service over RPC",
        description="Talk to services over the configured transport ([DEFAULT] transport_url).",
    )

    ping = add_command(
        commands,
        "ping",
        ping_topic,
        help="check that a topic's services answer",
        description="Ping through the baseapi namespace every service answers. Without "
        "--server or --all, one service of the topic answers.",
    )
    ping.add_argument("topic", metavar="TOPIC")
    target = ping.add_mutually_exclusive_group()
    target.add_argument("--server", metavar="HOST", help="ping the service on this host")
    target.add_argument(
        "--all",
        action="store_true",
        help="ping every service of the topic that the registry shows up, one by one",
    )
    ping.add_argument(
        "--timeout", type=float, default=PING_TIMEOUT, metavar="S", help="seconds (5)"
    )
    _add_format(ping)

    for name, handler, summary in (
        ("call", call_method, "call a method and print its result"),
        ("cast", cast_method, "cast a method (no reply)"),
    ):
        command = add_command(commands, name, handler, help=summary, description=summary + ".")
        command.add_argument("topic", metavar="TOPIC")
        command.add_argument("method", metavar="METHOD")
        command.add_argument("--server", metavar="HOST", help="only the service on this host")
        command.add_argument("--namespace", metavar="NS", help="the endpoint's namespace")
        command.add_argument(
            "--version", metavar="V", help="the API version to ask for, e.g. 1.2 (1.0)"
        )
        command.add_argument(
            "--arg",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="an argument of the method; VALUE is JSON if it parses, else a string",
        )
        if name == "call":
            command.add_argument(
                "--timeout", type=float, metavar="S", help="seconds (rpc_response_timeout)"
            )
            _add_format(command)
        else:
            command.add_argument(
                "--fanout", action="store_true", help="to every service of the topic"
            )


def _add_format(parser):
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format (table)"
    )


def parse_args(pairs):
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``."""
    args = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--arg {pair!r}: expected KEY=VALUE with KEY a Python identifier")
        try:
            args[key] = json.loads(value)
        except ValueError:
            args[key] = value
    return args


def ping_topic(conf, args):
    with _transport(conf) as transport:
        api = baserpc.BaseAPI(args.topic, transport=transport, conf=conf)
        if args.all:
            hosts = _up_hosts(conf, args.topic)
            if not hosts:
                return _fail(f"no service of topic {args.topic!r} is up in the service registry")
        else:
            hosts = [args.server]
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
            rows = list(pool.map(lambda host: _ping(api, host, args.timeout), hosts))
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        print(
            format_table(
                (
                    "Host",
                    "Service",
                    "Version",
                    "PID",
                    "Latency (ms)",
                    "Result",
                    "Config",
                    "Workers on it",
                ),
                [
                    (
                        r["host"],
                        r["service"],
                        format_version(r["api_version"], r["release"]),
                        r["pid"],
                        r["latency_ms"],
                        r["result"],
                        _config_cell(r),
                        r["config_workers"],
                    )
                    for r in rows
                ],
            )
        )
    return EXIT_ERROR if any(r["result"] != "ok" for r in rows) else 0


def _ping(api, host, timeout):
    started = time.monotonic()
    try:
        reply = api.ping(context.get_admin_context(), "svc-manage", host=host, timeout=timeout)
    except messaging.MessagingException as exc:
        return {
            "host": host,
            "service": None,
            "api_version": None,
            "release": None,
            "pid": None,
            "latency_ms": None,
            "result": _describe_error(exc, timeout),
            **dict.fromkeys(_CONFIG_KEYS),
        }
    return {
        "host": reply.get("host") or host,
        "service": reply.get("service"),
        # Servers older than these keys answer without them.
        "api_version": reply.get("api_version"),
        "release": reply.get("release"),
        "pid": reply.get("pid"),
        "latency_ms": round((time.monotonic() - started) * 1000, 2),
        "result": "ok",
        # Services of an older release do not tell.
        **{key: reply.get(key) for key in _CONFIG_KEYS},
    }


def _config_cell(row):
    """``3 5f1c9a0e``: the configuration generation and digest the worker that answered runs."""
    if row["config_generation"] is None:
        return None
    return f"{row['config_generation']} {row['config_digest']}"


def _up_hosts(conf, topic):
    api = servicegroup.API(conf)
    try:
        return sorted({r.host for r in api.get_all() if r.topic == topic and api.service_is_up(r)})
    finally:
        api.close()


def call_method(conf, args):
    def call(transport, client, kwargs):
        timeout = args.timeout or conf.rpc_response_timeout
        cctxt = client.prepare(server=args.server, timeout=timeout)
        try:
            result = cctxt.call(context.get_admin_context(), args.method, **kwargs)
        except messaging.MessagingTimeout as exc:
            # The usual cause is another transport or state than the service's.
            return _fail(f"{_describe_error(exc, timeout, args)} {_used(conf, transport)}")
        except messaging.MessagingException as exc:
            return _fail(_describe_error(exc, timeout, args))
        except Exception as exc:  # noqa: BLE001 - a remote exception re-raised here
            name = type(exc).__name__.removesuffix("_Remote")
            return _fail(f"the remote method raised {name}: {str(exc).splitlines()[0]}")
        _print_result(result, args.format)
        return 0

    return _send(conf, args, call)


def cast_method(conf, args):
    def cast(transport, client, kwargs):
        cctxt = client.prepare(server=args.server, fanout=args.fanout or None)
        try:
            cctxt.cast(context.get_admin_context(), args.method, **kwargs)
        except messaging.MessagingException as exc:
            return _fail(_describe_error(exc, None, args))
        return 0

    return _send(conf, args, cast)


def _send(conf, args, send):
    """``send(transport, client, kwargs)`` with the --arg values, on a transport of its own."""
    try:
        kwargs = parse_args(args.arg)
    except ValueError as exc:
        return _fail(str(exc))
    with _transport(conf) as transport:
        return send(transport, _client(transport, args), kwargs)


def _client(transport, args):
    target = messaging.Target(topic=args.topic, namespace=args.namespace, version=args.version)
    return messaging.get_rpc_client(
        transport, target, serializer=messaging.RequestContextSerializer()
    )


class _transport:
    """A transport for one command, always cleaned up."""

    def __init__(self, conf):
        self.transport = messaging.get_rpc_transport(conf)

    def __enter__(self):
        return self.transport

    def __exit__(self, *exc_info):
        self.transport.cleanup()


def _used(conf, transport):
    """What this command talked through, for an error a wrong config file explains."""
    return (
        f"(transport {transport.url}; state directory {conf.state_path}; "
        f"config files: {sources.describe_files(conf)})"
    )


def _describe_error(exc, timeout, args=None):
    where = ""
    if args is not None:
        where = f"topic {args.topic!r}" + (f" on {args.server!r}" if args.server else "")
    if isinstance(exc, messaging.UnroutableCall):
        # A MessagingTimeout too, but it says what happened: nobody listens.
        return str(exc).splitlines()[0]
    if isinstance(exc, messaging.MessagingTimeout):
        return f"no reply from {where or 'the service'} within {timeout:g} s: is it running?"
    if isinstance(exc, messaging.RemoteError):
        if exc.exc_type == "NoSuchMethod":
            return f"{where}: no such method {args.method!r}" if args else "no such method"
        if exc.exc_type == "UnsupportedVersion":
            return f"{where}: {exc.value}"
        return f"the remote method raised {exc.exc_type}: {exc.value}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _print_result(result, fmt):
    if fmt == "json":
        print(json.dumps(result, indent=2, default=str))
    elif isinstance(result, dict):
        print(format_table(("Key", "Value"), [(k, _show(v)) for k, v in result.items()]))
    elif isinstance(result, list) and result and all(isinstance(r, dict) for r in result):
        headers = list(dict.fromkeys(k for row in result for k in row))
        print(format_table(headers, [[_show(row.get(h)) for h in headers] for row in result]))
    else:
        print(_show(result))


def _show(value):
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _fail(message):
    return errors.fail("svc-manage", message)
