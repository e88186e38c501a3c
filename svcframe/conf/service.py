"""Service runtime options: [DEFAULT] (oslo.service and nova names) and [launcher].

The [DEFAULT] options keep the names and defaults of oslo.service and nova,
so an existing nova.conf works unchanged.  ``run_external_periodic_tasks``
belongs to ``oslo_service.periodic_task``, which registers it itself (a
second definition here would clash); sample files get it from the
``oslo.service.periodic_task`` generator namespace.

[launcher] holds what our own process launcher adds: worker count, hang
detection and respawn backoff.
"""

import socket

from oslo_config import cfg

from svcframe.conf._groups import register_group_opts

__all__ = ["list_opts", "register_opts"]


service_opts = [
    cfg.IntOpt(
        "graceful_shutdown_timeout",
        default=60,
        min=0,
        mutable=True,
        help="Seconds a stopping service gets to finish its in-flight requests "
        "before its processes are killed. 0 means wait forever.",
    ),
    cfg.HostDomainOpt(
        "host",
        default=socket.gethostname(),
        sample_default="<current_hostname>",
        help="Name of this node, as other services address it: the server "
        "part of the `<topic>.<host>` queue and the host column of the service "
        "registry.",
    ),
    cfg.BoolOpt(
        "periodic_enable",
        default=True,
        help="Run the periodic tasks of the service's manager.",
    ),
    cfg.IntOpt(
        "periodic_fuzzy_delay",
        default=60,
        min=0,
        help="Upper bound, in seconds, of a random delay before the first run "
        "of the periodic tasks, so that services started together do not run "
        "them in lockstep. 0 disables it.",
    ),
    cfg.IntOpt(
        "periodic_interval_max",
        default=60,
        min=1,
        help="Longest sleep, in seconds, between two runs of the periodic task "
        "scheduler, whatever the tasks' spacing.",
    ),
    cfg.BoolOpt(
        "log_options",
        default=True,
        mutable=True,
        help="Log the value of every option at DEBUG level when a service starts.",
    ),
]

launcher_group = cfg.OptGroup(
    "launcher",
    title="Process launcher",
    help="How the launcher runs, watches and replaces worker processes.",
)

launcher_opts = [
    cfg.IntOpt(
        "workers",
        min=1,
        help="Number of worker processes. Unset means one per CPU. 1 runs the "
        "service inside the launching process, without a master.",
    ),
    cfg.FloatOpt(
        "worker_heartbeat_interval",
        min=0.01,
        sample_default="a sixth of worker_hang_timeout, at most 5",
        help="Seconds between two heartbeats a worker sends to the master. "
        "Unset, a sixth of worker_hang_timeout, at most 5 s: a hung worker is "
        "one that missed several, and an idle worker wakes for nothing else.",
    ),
    cfg.FloatOpt(
        "worker_hang_timeout",
        default=30.0,
        min=0.1,
        mutable=True,
        help="A worker that sent no heartbeat for this many seconds is "
        "considered hung: the master kills it and starts another. Must be "
        "well above worker_heartbeat_interval.",
    ),
    cfg.FloatOpt(
        "respawn_backoff_initial",
        default=0.5,
        min=0,
        mutable=True,
        help="Seconds before the first respawn of a worker that died. Each "
        "further death doubles the delay, up to respawn_backoff_max.",
    ),
    cfg.FloatOpt(
        "respawn_backoff_max",
        default=30.0,
        min=0,
        mutable=True,
        help="Longest delay, in seconds, before a dead worker is respawned.",
    ),
    cfg.FloatOpt(
        "respawn_backoff_reset_after",
        default=60.0,
        min=0,
        mutable=True,
        help="A worker that ran at least this many seconds before dying is "
        "respawned after respawn_backoff_initial again.",
    ),
    cfg.IntOpt(
        "boot_failure_limit",
        default=5,
        min=1,
        mutable=True,
        help="Number of consecutive workers that fail to start (an exception "
        "in start(), or an exit before reporting ready) after which the master "
        "stops every worker and exits with status 3, rather than respawning "
        "forever.",
    ),
]


def register_opts(conf):
    conf.register_opts(service_opts)
    register_group_opts(conf, launcher_group, launcher_opts)


def list_opts():
    return [(None, service_opts), (launcher_group, launcher_opts)]
