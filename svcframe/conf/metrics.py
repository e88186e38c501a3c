"""[metrics] options: the HTTP listener for Prometheus metrics and health checks."""

from oslo_config import cfg

from svcframe.conf._groups import register_group_opts

__all__ = ["GROUP", "list_opts", "register_opts"]

GROUP = "metrics"

metrics_group = cfg.OptGroup(
    GROUP,
    title="Metrics and health",
    help="An HTTP listener in the launching process that serves /metrics "
    "(Prometheus text format, every worker aggregated), /healthz and /readyz.",
)

metrics_opts = [
    cfg.HostAddressOpt(
        "host",
        default="127.0.0.1",
        help="Address the metrics and health listener binds to.",
    ),
    cfg.PortOpt(
        "port",
        help="Port of the metrics and health listener. Unset (the default) "
        "turns metrics off: no listener, and the request hooks cost nothing.",
    ),
]


def register_opts(conf):
    register_group_opts(conf, metrics_group, metrics_opts)


def list_opts():
    return [(metrics_group, metrics_opts)]
