"""Agent's server side: runs tasks and reports their progress to the conductor.

Its API versions are listed in doc/source/components.rst.
"""

import logging
import time

from svcframe import messaging
from svcframe.agent import kinds
from svcframe.agent import rpcapi as agent_rpcapi
from svcframe.conductor import rpcapi as conductor_rpcapi
from svcframe.conf import agent as agent_conf
from svcframe.manager import Manager, periodic_task
from svcframe.scheduler import rpcapi as scheduler_rpcapi

__all__ = ["AgentManager"]

LOG = logging.getLogger(__name__)


class AgentManager(Manager):
    """Runs the tasks cast to ``worker.<host>`` (the topic's name predates the agent's)."""

    target = messaging.Target(version="1.1")
    #: The release name of this API version in the client's VERSION_ALIASES.
    release = "beta"
    service_name = "agent"
    rpc_topic = agent_rpcapi.RPC_TOPIC

    def __init__(self, host=None, conf=None):
        super().__init__(host=host, conf=conf)
        agent_conf.register_opts(self.conf)
        self.conductor = None
        self.schedulers = None

    def init_host(self, service_ref=None):
        self.conductor = conductor_rpcapi.ConductorAPI(conf=self.conf)
        self.schedulers = scheduler_rpcapi.SchedulerAPI(
            transport=self.conductor.transport, conf=self.conf
        )

    def post_start_hook(self):
        # Schedulers learn about a new agent now, not a period later.
        self.announce_capabilities(None)

    def cleanup_host(self):
        if self.conductor is not None:
            self.conductor.transport.cleanup()

    # -- RPC API ---------------------------------------------------------------

    def run_task(self, context, task, progress_interval=None):
        """Run ``task`` (a cast); its progress and outcome go to the conductor.

        ``progress_interval`` (API 1.1) overrides [agent] progress_interval.
        """
        task_id, kind = task["id"], task["kind"]
        interval = progress_interval or self.conf.agent.progress_interval
        function = kinds.KINDS.get(kind)
        if function is None:
            LOG.error("Task %s: unknown kind %r", task_id, kind)
            self.conductor.update_task(
                context,
                task_id,
                status="failed",
                worker_host=self.host,
                error=f"unknown task kind {kind!r}",
            )
            return
        LOG.info("Running task %s (%s)", task_id, kind)
        self.conductor.update_task(context, task_id, status="running", worker_host=self.host)
        last_report = [time.monotonic()]

        def report(percent):
            now = time.monotonic()
            if now - last_report[0] >= interval:
                last_report[0] = now
                self.conductor.update_task(context, task_id, progress=percent)

        try:
            result = function(task.get("params") or {}, report)
        except Exception as exc:
            LOG.warning("Task %s failed: %s", task_id, exc)
            self.conductor.update_task(
                context, task_id, status="failed", worker_host=self.host, error=str(exc)
            )
            return
        # The final update names the host too: updates are casts the conductor
        # may apply out of order, and once the task is finished it drops the
        # late "scheduled" and "running" ones, which carry worker_host.
        self.conductor.update_task(
            context, task_id, status="done", progress=100, result=result, worker_host=self.host
        )
        LOG.info("Task %s done", task_id)

    def capabilities(self, context):
        """What this agent can run."""
        return {"kinds": sorted(kinds.KINDS), "api_version": self.target.version}

    # -- periodic tasks ----------------------------------------------------------

    @periodic_task.periodic_task(spacing=agent_conf.ANNOUNCE_SPACING)
    def announce_capabilities(self, context):
        """Tell every scheduler (fanout) what this agent can run."""
        self.schedulers.announce(context or {}, self.host, self.capabilities(context))
