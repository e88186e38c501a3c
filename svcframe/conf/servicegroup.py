"""[DEFAULT] servicegroup options and [servicegroup_redis], with nova's names.

``servicegroup_driver``, ``report_interval`` and ``service_down_time`` keep
nova's names and defaults, so an existing nova.conf section means the same
thing here.  nova hard-codes the delay before the first report (5 s); it is
an option here so that tests and fast-starting services can lower it.
"""

import logging

from oslo_config import cfg

from svcframe.conf._groups import register_group_opts

__all__ = ["effective_service_down_time", "list_opts", "register_opts"]

LOG = logging.getLogger(__name__)

servicegroup_opts = [
    cfg.StrOpt(
        "servicegroup_driver",
        default="db",
        choices=[
            ("db", "Database driver: a services table (SQLite by default, PostgreSQL, MariaDB)."),
            ("redis", "Redis driver: a key per service that expires after service_down_time."),
        ],
        help="Driver that records which services are alive. Loaded from the "
        "'svcframe.servicegroup.drivers' entry point namespace.",
    ),
    cfg.IntOpt(
        "report_interval",
        default=10,
        min=1,
        help="Seconds between two heartbeats a service sends to the service registry.",
    ),
    cfg.IntOpt(
        "service_down_time",
        default=60,
        min=1,
        help="Seconds without a heartbeat after which a service is considered down. "
        "Must be greater than report_interval; when it is not, "
        "int(report_interval * 2.5) is used instead and a warning is logged.",
    ),
    cfg.IntOpt(
        "initial_report_delay",
        default=5,
        min=0,
        help="Seconds between joining the service group and the first heartbeat, "
        "so that a service finishes starting before it is reported up.",
    ),
]

redis_group = cfg.OptGroup(
    "servicegroup_redis",
    title="Redis servicegroup driver",
    help="Where the redis servicegroup driver keeps its keys.",
)

redis_opts = [
    cfg.StrOpt(
        "url",
        default="redis://127.0.0.1:6379/0",
        secret=True,
        help="Redis URL: redis://[:password@]host:port/db, rediss:// for TLS, "
        "or unix:///path/to/socket?db=N.",
    ),
    cfg.StrOpt(
        "key_prefix",
        default="svcframe:servicegroup",
        help="Prefix of every key the driver writes, so that several deployments "
        "can share one Redis database.",
    ),
    cfg.FloatOpt(
        "socket_timeout",
        default=5.0,
        min=0.1,
        help="Seconds to wait for Redis to accept a connection or answer a command.",
    ),
]


def register_opts(conf):
    conf.register_opts(servicegroup_opts)
    register_group_opts(conf, redis_group, redis_opts)


def list_opts():
    return [(None, servicegroup_opts), (redis_group, redis_opts)]


def effective_service_down_time(conf):
    """service_down_time, raised as nova does when it is not above report_interval."""
    report_interval = conf.report_interval
    down_time = conf.service_down_time
    if down_time <= report_interval:
        raised = int(report_interval * 2.5)
        LOG.warning(
            "service_down_time (%d) must be greater than report_interval (%d); using %d instead",
            down_time,
            report_interval,
            raised,
        )
        return raised
    return down_time
