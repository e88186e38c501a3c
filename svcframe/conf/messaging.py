"""[DEFAULT] messaging options, with oslo.messaging's names and defaults.

An existing nova.conf messaging section works unchanged: the options
oslo.messaging also has are defined exactly as it defines them, so both
libraries register them on one ConfigOpts (``cfg.CONF`` included) in either
order.  One reading differs: a ``transport_url`` set nowhere (its value is
the option's default, ``rabbit://``) means the embedded transport, which
needs no broker; set explicitly, ``rabbit://`` is RabbitMQ on localhost.
"""

import warnings

from oslo_config import cfg

from svcframe.conf import paths
from svcframe.conf._groups import register_group_opts

__all__ = ["list_opts", "register_opts"]


def __getattr__(name):
    # state_path moved to svcframe.conf.paths; the old name works for one release.
    if name == "default_state_path":
        warnings.warn(
            "svcframe.conf.messaging.default_state_path is deprecated: "
            "use svcframe.conf.paths.default_state_path",
            DeprecationWarning,
            stacklevel=2,
        )
        return paths.default_state_path
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


messaging_opts = [
    # Shared with oslo.messaging: defined exactly as it defines them (type,
    # default, help), or registering both on one ConfigOpts raises
    # DuplicateOptError.  tests/interop/test_shared_options.py holds them to it.
    cfg.StrOpt(
        "transport_url",
        default="rabbit://",
        secret=True,
        help="The network address and optional user credentials for "
        "connecting to the messaging backend, in URL format. The "
        "expected format is:\n\n"
        "driver://[user:pass@]host:port[,[userN:passN@]hostN:"
        "portN]/virtual_host?query\n\n"
        "Example: rabbit://rabbitmq:password@127.0.0.1:5672//\n\n"
        "For full details on the fields in the URL see the "
        "documentation of oslo_messaging.TransportURL at "
        "https://docs.openstack.org/oslo.messaging/latest/"
        "reference/transport.html",
    ),
    cfg.StrOpt(
        "control_exchange",
        default="openstack",
        help="The default exchange under which topics are scoped. May "
        "be overridden by an exchange name specified in the "
        "transport_url option.",
    ),
    cfg.IntOpt(
        "rpc_response_timeout",
        default=60,
        help="Seconds to wait for a response from a call.",
    ),
    cfg.IntOpt(
        "executor_thread_pool_size",
        default=64,
        deprecated_name="rpc_thread_pool_size",
        help="Size of executor thread pool when executor is threading or eventlet.",
    ),
    cfg.BoolOpt(
        "rpc_ping_enabled",
        default=False,
        help="Add an endpoint to answer to ping calls. Endpoint is named oslo_rpc_server_ping",
    ),
    # svcframe's own.
    cfg.BoolOpt(
        "rpc_send_tracebacks",
        default=True,
        mutable=True,
        help="Send the server-side traceback to the caller with every failure reply. "
        "When false, a caller gets the exception's class, module and message only: "
        "no server file paths, source lines or chained exceptions. The traceback is "
        "still logged on the server.",
    ),
    cfg.StrOpt(
        "rpc_ack_mode",
        default="after_processing",
        choices=(
            (
                "after_processing",
                "a cast is acknowledged once its method has returned or "
                "raised: at-least-once, a process that dies before that leaves it to another",
            ),
            (
                "on_receipt",
                "a cast is acknowledged when an executor thread starts it, as "
                "oslo.messaging does: at-most-once, lost if the process dies while running it",
            ),
        ),
        help="When an RPC server acknowledges a cast to the broker. Calls are always "
        "acknowledged when an executor thread starts them (their caller's timeout covers a lost "
        "call, and a call run twice could answer twice). In both modes, messages "
        "received but not started go back to the broker when the server stops or dies. "
        "With after_processing, endpoints must tolerate a cast delivered twice after "
        "a worker process died or the broker connection was lost (duplicates are dropped by "
        "unique id within one process only). A server can override this with "
        "get_rpc_server(..., ack_mode=...).",
    ),
    cfg.FloatOpt(
        "rpc_slow_call_threshold",
        default=10.0,
        min=0,
        mutable=True,
        help="Seconds after which an RPC request is slow: a server logs each "
        "request that ran longer, a client each call it waited on longer, once, "
        "with topic, method, request id and duration. 0 disables it.",
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
        sample_default="a directory in memory for this state_path, /dev/shm/svcframe-UID/KEY",
        help="Directory holding the embedded transport's queues and exchange "
        "bindings. Every process that talks to each other must use the same one. "
        "Unset, it is in memory (a tmpfs), one per state_path: queued messages "
        "outlive the death of any process, not a reboot, as on RabbitMQ's "
        "transient queues. Set it to a directory on disk, $state_path/messaging "
        "for instance, to keep them across reboots, at about half the speed. "
        "Where /dev/shm is missing or smaller than 1 GiB, unset means "
        "$state_path/messaging.",
    ),
    cfg.FloatOpt(
        "polling_interval",
        default=0.01,
        min=0.001,
        help="Only where inotify is unavailable (platforms other than Linux): "
        "seconds between two looks at an empty queue. Lower is faster and costs "
        "more CPU while idle. On Linux a consumer sleeps until a message arrives.",
    ),
]


def register_opts(conf):
    conf.register_opts(messaging_opts)
    # The embedded transport's data_dir defaults to a directory under it.
    paths.register_opts(conf)
    register_group_opts(conf, embedded_group, embedded_opts)


def list_opts():
    # state_path stays listed here, where the sample has always documented it.
    return [(None, messaging_opts + paths.path_opts), (embedded_group, embedded_opts)]
