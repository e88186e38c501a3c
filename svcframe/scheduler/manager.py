"""Scheduler's server side: picks a live agent for each task.

An agent is a candidate when the service registry shows it up and
enabled, and it announced (by fanout, to every scheduler process) that
it can run the task's kind.
"""

import itertools
import logging
import threading
import time

from svcframe import messaging, servicegroup
from svcframe.agent import rpcapi as agent_rpcapi
from svcframe.conductor import rpcapi as conductor_rpcapi
from svcframe.conf import scheduler as scheduler_conf
from svcframe.manager import Manager

__all__ = ["AGENT_BINARIES", "NoValidHost", "SchedulerManager", "WORKER_BINARY"]

LOG = logging.getLogger(__name__)

#: The binary names agents register under: launched as ``agent``, or under
#: the component's deprecated name ``worker``.
AGENT_BINARIES = ("svc-agent", "svc-worker")
#: Deprecated: the binary name of agents launched under the old name only.
WORKER_BINARY = "svc-worker"
# What a peer can make a scheduler remember: names of this length at most,
# and this many hosts at most (announcements also expire).
MAX_HOST_NAME = 255
MAX_ANNOUNCED_HOSTS = 10000


class NoValidHost(Exception):
    """No live agent can run the task."""

    def __init__(self, message=None, kind=None):
        self.kind = kind
        self.kwargs = {"kind": kind}
        super().__init__(message or f"no live agent can run tasks of kind {kind!r}")


class SchedulerManager(Manager):
    """Places tasks on agents; keeps what every agent announced."""

    target = messaging.Target(version="1.0")
    #: The release name of this API version in the client's VERSION_ALIASES.
    release = "alpha"
    service_name = "scheduler"

    def __init__(self, host=None, conf=None):
        super().__init__(host=host, conf=conf)
        scheduler_conf.register_opts(self.conf)
        self._announced = {}  # host -> (capabilities, monotonic time)
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self.servicegroup = None
        self.conductor = None
        self.agents = None

    def init_host(self, service_ref=None):
        self.servicegroup = servicegroup.API(self.conf)
        self.conductor = conductor_rpcapi.ConductorAPI(conf=self.conf)
        self.agents = agent_rpcapi.AgentAPI(transport=self.conductor.transport, conf=self.conf)

    def cleanup_host(self):
        if self.servicegroup is not None:
            self.servicegroup.close()
        if self.conductor is not None:
            self.conductor.transport.cleanup()

    # -- RPC API ---------------------------------------------------------------

    def announce(self, context, host, capabilities):
        """An agent's capabilities (a fanout cast every agent sends periodically)."""
        if not isinstance(host, str) or not 0 < len(host) <= MAX_HOST_NAME:
            LOG.warning("Ignored an announcement with an invalid host name")
            return
        if not isinstance(capabilities, dict) or not isinstance(
            capabilities.get("kinds", []), list
        ):
            LOG.warning("Ignored an announcement from %.255s: capabilities are malformed", host)
            return
        now = time.monotonic()
        with self._lock:
            self._forget_expired_locked(now)
            known = host in self._announced
            self._announced.pop(host, None)
            self._announced[host] = (capabilities, now)
            while len(self._announced) > MAX_ANNOUNCED_HOSTS:
                # Oldest first: whoever floods us with names pushes out its own.
                self._announced.pop(next(iter(self._announced)))
        if not known:
            LOG.info("Agent %s announced: %s", host, ", ".join(capabilities.get("kinds", [])))

    def _forget_expired_locked(self, now):
        # Announcements older than the age _pick_host still trusts (twice,
        # for list_workers) are of no use: a peer cannot make us keep
        # every name it ever sent.
        horizon = now - 2 * self.conf.scheduler.announcement_max_age
        for host in [h for h, (_, at) in self._announced.items() if at < horizon]:
            del self._announced[host]

    @messaging.expected_exceptions(NoValidHost)
    def submit_task(self, context, kind, params=None, progress_interval=None):
        """Create a task, send it to a live agent that can run it, return it."""
        host = self._pick_host(context, kind)
        task = self.conductor.create_task(context, kind, params)
        self.conductor.update_task(context, task["id"], status="scheduled", worker_host=host)
        self.agents.run_task(context, host, task, progress_interval=progress_interval)
        LOG.info("Task %s (%s) sent to agent %s", task["id"], kind, host)
        return dict(task, status="scheduled", worker_host=host)

    def list_workers(self, context):
        """Every agent this scheduler heard of, and whether the registry shows it up.

        The method keeps its name from when agents were called workers: it
        is what clients of every release call.
        """
        up = set(self._up_agents())
        now = time.monotonic()
        with self._lock:
            self._forget_expired_locked(now)
            announced = dict(self._announced)
        hosts = sorted(up | set(announced))
        return [
            {
                "host": host,
                "up": host in up,
                "kinds": announced.get(host, ({}, None))[0].get("kinds"),
                "announced_seconds_ago": (
                    round(now - announced[host][1], 1) if host in announced else None
                ),
            }
            for host in hosts
        ]

    # -- internals ---------------------------------------------------------------

    def _up_agents(self):
        # One host may show under both names while it switches to the new one.
        return sorted({h for b in AGENT_BINARIES for h in self.servicegroup.get_up_hosts(b)})

    def _pick_host(self, context, kind):
        up = self._up_agents()
        max_age = self.conf.scheduler.announcement_max_age
        now = time.monotonic()
        with self._lock:
            announced = {
                host: caps for host, (caps, at) in self._announced.items() if now - at <= max_age
            }
        for host in up:
            if host not in announced:
                # Up but not heard from (this scheduler just started): ask it.
                announced[host] = self._ask_capabilities(context, host)
        candidates = sorted(h for h in up if kind in (announced.get(h) or {}).get("kinds", ()))
        if not candidates:
            raise NoValidHost(kind=kind)
        return candidates[next(self._turn) % len(candidates)]

    def _ask_capabilities(self, context, host):
        try:
            capabilities = self.agents.capabilities(context, host)
        except messaging.MessagingException as exc:
            LOG.warning("Agent %s did not say what it can run: %s", host, exc)
            return None
        self.announce(context, host, capabilities)
        return capabilities
