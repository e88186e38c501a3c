"""[DEFAULT] messaging options, with oslo.messaging's names and defaults.

An existing nova.conf messaging section works unchanged: the names, groups
and defaults below are the ones oslo.messaging registers.  The only
difference is ``transport_url``: unset means the embedded transport (no
broker needed), where oslo.messaging defaults to ``rabbit://``.
"""

import os

from oslo_config import cfg

from svcframe.conf._groups import register_group_opts

__all__ = ["list_opts", "register_opts", "default_state_path"]


def default_state_path():
    """Where a service keeps its local state when nothing else is set."""
    if os.geteuid() == 0:
        return "/var/lib/svcframe"
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "svcframe")


messaging_opts = [
    cfg.StrOpt(
        "transport_url",
        secret=True,
        help="The network address and optional user credentials for connecting "
        "to the messaging backend, in URL format: "
        "driver://[user:pass@]host:port[,[userN:passN@]hostN:portN]/virtual_host?query. "
        "Unset means the embedded transport, which needs no broker and works "
        "between the processes of one host (data under [embedded] data_dir).",
    ),
    cfg.StrOpt(
        "control_exchange",
        default="openstack",
        help="The default exchange under which topics are scoped. Must match "
        "the peers you talk to (nova uses 'nova').",
    ),
    cfg.IntOpt(
        "rpc_response_timeout",
        default=60,
        help="Seconds to wait for a response from a call.",
    ),
    cfg.IntOpt(
        "executor_thread_pool_size",
        default=64,
        min=1,
        deprecated_name="rpc_thread_pool_size",
        help="Size of executor thread pool when executor is threading or eventlet.",
    ),
    cfg.BoolOpt(
        "rpc_ping_enabled",
        default=False,
        help="Add an endpoint to answer to ping calls. Endpoint is named oslo_rpc_server_ping",
    ),
    # svcframe's own: oslo.messaging has no slow-call log.
    cfg.FloatOpt(
        "rpc_slow_call_threshold",
        default=10.0,
        min=0,
        mutable=True,
        help="Seconds after which an RPC request is slow: a server logs each "
        "request that ran longer, a client each call it waited on longer, once, "
        "with topic, method, request id and duration. 0 disables it.",
    ),
    cfg.StrOpt(
        "state_path",
        default=default_state_path(),
        sample_default="~/.local/state/svcframe (/var/lib/svcframe as root)",
        help="Top-level directory for the state a service keeps on this host: "
        "the embedded transport's queues and the default SQLite service registry.",
    ),
]

embedded_group = cfg.OptGroup(
    "embedded",
    title="Embedded transport",
    help="The broker-less transport used when transport_url is unset. "
    "Processes on one host exchange messages through files.",
)

embedded_opts = [
    cfg.StrOpt(
        "data_dir",
        default="$state_path/messaging",
        help="Directory holding the embedded transport's queues and exchange "
        "bindings. Every process that talks to each other must use the same one.",
    ),
    cfg.FloatOpt(
        "polling_interval",
        default=0.01,
        min=0.001,
        help="Seconds between two looks at an empty queue. Lower is faster "
        "and costs more CPU while idle.",
    ),
]


def register_opts(conf):
    conf.register_opts(messaging_opts)
    register_group_opts(conf, embedded_group, embedded_opts)


def list_opts():
    return [(None, messaging_opts), (embedded_group, embedded_opts)]
