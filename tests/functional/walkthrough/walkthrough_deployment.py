"""A deployment on one machine: services run by svc-launch, administered with svc-manage.

Every service of a :class:`Deployment` reads the same options -- RabbitMQ, a
control exchange of the deployment's own, one ``state_path`` (the SQLite
service registry and tasks table), heartbeats every second -- from a config
file of its own, written by the runtime harness's :class:`Launch`, which
also kills, by pid, what is left of a run.  ``svc-manage`` reads a config
file with the same options.

RabbitMQ names a topic's queue after the topic alone (``conductor``), whatever
the exchange: services of another run on the same virtual host would consume
this deployment's requests.  So a deployment makes a virtual host of its own
with rabbitmqctl (which honours RABBITMQ_NODENAME) and deletes it when it is
closed; without rabbitmqctl it falls back to the default one.  Host names
carry a suffix unique to the deployment as well.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from runtime_harness import (
    RABBIT_URL,
    SVC_MANAGE,
    Launch,
    alive,
    delete_broker_entities,
    run_cli,
    unique,
    write_config,
)

from svcframe.testing import wait_until

__all__ = ["Deployment", "descendants"]

HERE = os.path.dirname(os.path.abspath(__file__))
BOOT_TIMEOUT = 30
TASK_TIMEOUT = 20
FINISHED = ("done", "failed", "stale")


def rabbitmqctl(*args):
    """True when ``rabbitmqctl ARGS`` succeeded."""
    command = shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path="/usr/sbin")
    if command is None:
        return False
    try:
        result = subprocess.run([command, *args], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def create_vhost(name):
    """``name`` once it is a virtual host guest may use, else None."""
    if not rabbitmqctl("add_vhost", name):
        return None
    if not rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*"):
        rabbitmqctl("delete_vhost", name)
        return None
    return name


def descendants(pid):
    """The pids of every process below ``pid``, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stream:
                ppid = int(stream.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class ScriptLaunch(Launch):
    """A run of ``python SCRIPT --config-file F`` instead of svc-launch, killed the same way."""

    def __init__(self, script, *args, **kwargs):
        self.script = script
        super().__init__(*args, **kwargs)

    @property
    def command(self):
        return [sys.executable, self.script, "--config-file", str(self.conf_path)]


class Deployment:
    """Services sharing a control exchange and a state_path; ``close()`` kills what is left."""

    def __init__(self, directory, name):
        self.directory = directory
        self.suffix = uuid.uuid4().hex[:6]
        self.exchange = unique(f"{name}_")
        self.vhost = create_vhost(self.exchange)
        self.state_path = directory / "state"
        self.runs = []
        self.options = {
            "DEFAULT": {
                "transport_url": RABBIT_URL + (self.vhost or ""),
                "control_exchange": self.exchange,
                "state_path": self.state_path,
                "report_interval": 1,
                "service_down_time": 3,
                "initial_report_delay": 0,
                "periodic_fuzzy_delay": 0,
                "graceful_shutdown_timeout": 10,
                "rpc_response_timeout": 10,
            },
            "launcher": {
                "worker_hang_timeout": 5,
                "worker_heartbeat_interval": 0.2,
                "respawn_backoff_initial": 0.2,
                "respawn_backoff_max": 1.6,
            },
        }
        self.manage_conf = directory / "manage.conf"
        write_config(
            self.manage_conf,
            {
                "DEFAULT": self.options["DEFAULT"],
                "oslo_messaging_rabbit": {"rabbit_transient_queues_ttl": 300},
            },
        )

    def host(self, name):
        return f"{name}-{self.suffix}"

    # -- services --------------------------------------------------------------

    def start(self, binary, host, workers=1, script=None, **sections):
        """Start ``binary`` on ``host`` (svc-launch, or ``script``); ``sections`` add options."""
        directory = self.directory / f"{len(self.runs)}-{binary}-{host}"
        directory.mkdir()
        config = {name: dict(values) for name, values in self.options.items()}
        config["DEFAULT"]["host"] = host
        for name, values in sections.items():
            config.setdefault(name, {}).update(values)
        if script is None:
            run = Launch(directory, HERE, binary, workers, None, ["--host", host], **config)
        else:
            run = ScriptLaunch(script, directory, HERE, binary, None, None, (), **config)
        self.runs.append(run)
        return run.start()

    def wait_ready(self, *runs, timeout=BOOT_TIMEOUT):
        """Wait until each run says it is ready ("All N workers ready", or "Service ready")."""
        for run in runs:
            count = run.workers_count or 1
            text = "Service ready" if count == 1 else f"All {count} workers ready"

            def ready(run=run, text=text):
                if run.proc.poll() is not None:
                    raise AssertionError(
                        f"{run.command} exited with status {run.proc.returncode}:\n{run.stderr()}"
                    )
                return run.count(text)

            wait_until(
                ready, timeout, message=lambda run=run, text=text: f"{text!r}:\n{run.stderr()}"
            )

    def stop(self, run, timeout=15):
        """SIGTERM, then the exit status once the service has stopped gracefully."""
        run.kill(signal.SIGTERM)
        status = run.wait(timeout)
        run.close()
        return status

    def kill_hard(self, run):
        """SIGKILL the service's master and every worker, by pid; return those pids."""
        pids = sorted({run.pid, *run.all_worker_pids(), *descendants(run.pid)})
        for pid in pids:
            try:
                if os.getsid(pid) == run.pid and alive(pid):
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not any(alive(pid) for pid in pids), 10, message=f"{pids} to die")
        run.wait(10)
        return pids

    def close(self):
        try:
            for run in reversed(self.runs):
                run.close()
        finally:
            if self.vhost is not None:
                # A broker restarting under the tests refuses it for a moment.
                for _ in range(3):
                    if rabbitmqctl("delete_vhost", self.vhost):
                        break
                    time.sleep(2)
            else:
                delete_broker_entities(self.exchange, [])

    # -- svc-manage ----------------------------------------------------------------

    def manage(self, *args, timeout=60):
        return run_cli(SVC_MANAGE, "--config-file", str(self.manage_conf), *args, timeout=timeout)

    def manage_json(self, *args):
        result = self.manage(*args, "--format", "json")
        assert result.returncode == 0, f"svc-manage {' '.join(args)}: {result.stderr}"
        return json.loads(result.stdout)

    def services(self):
        """{(binary, host): service} as ``svc-manage service list`` shows them."""
        return {(s["binary"], s["host"]): s for s in self.manage_json("service", "list")}

    def wait_state(self, binary, host, state, timeout=10):
        return wait_until(
            lambda: self.services().get((binary, host), {}).get("state") == state,
            timeout,
            message=lambda: f"{binary} on {host} {state}: {self.services()}",
            interval=0.2,
        )

    def submit_command(self, kind, params=None, scheduler=None, progress_interval=None):
        args = ["rpc", "call", "scheduler", "submit_task", "--arg", f"kind={kind}"]
        if params is not None:
            args += ["--arg", f"params={json.dumps(params)}"]
        if progress_interval is not None:
            args += ["--arg", f"progress_interval={progress_interval}"]
        if scheduler is not None:
            args += ["--server", scheduler]
        return args

    def submit(self, kind, params=None, scheduler=None, progress_interval=None):
        """The task, as ``svc-manage rpc call scheduler submit_task`` returns it."""
        return self.manage_json(*self.submit_command(kind, params, scheduler, progress_interval))

    def submit_all(self, kind, params_list, scheduler=None):
        """Submit one task per item of ``params_list``, several svc-manage at a time."""
        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(lambda params: self.submit(kind, params, scheduler), params_list))

    def get_task(self, task_id):
        return self.manage_json(
            "rpc", "call", "conductor", "get_task", "--arg", f"task_id={json.dumps(task_id)}"
        )

    def wait_task(self, task_id, status, timeout=TASK_TIMEOUT):
        """Poll the task until it has ``status``; fail at once if it finishes otherwise.

        The task comes back with ``seen``, the statuses the polls saw, and
        ``progress_seen``, the progress values.
        """
        seen, progress_seen = [], []

        def reached():
            task = self.get_task(task_id)
            if not seen or seen[-1] != task["status"]:
                seen.append(task["status"])
            if not progress_seen or progress_seen[-1] != task["progress"]:
                progress_seen.append(task["progress"])
            if task["status"] == status:
                return task
            assert task["status"] not in FINISHED, f"task {task_id} went {seen}: {task}"
            return None

        task = wait_until(
            reached, timeout, message=lambda: f"task {task_id} {status}; went {seen}", interval=0.1
        )
        task["seen"] = seen
        task["progress_seen"] = progress_seen
        return task

    def wait_tasks(self, task_ids, status, timeout=TASK_TIMEOUT):
        """Poll ``list_tasks`` until every task has ``status``; the tasks, in order."""
        last = {}

        def reached():
            tasks = self.manage_json(
                "rpc", "call", "conductor", "list_tasks", "--arg", "limit=1000"
            )
            last.clear()
            last.update((t["id"], t) for t in tasks if t["id"] in task_ids)
            finished = [t for t in last.values() if t["status"] in FINISHED]
            assert all(t["status"] == status for t in finished), finished
            return len(finished) == len(task_ids)

        wait_until(
            reached,
            timeout,
            message=lambda: f"{len(task_ids)} tasks {status}: {last}",
            interval=0.1,
        )
        return [last[task_id] for task_id in task_ids]
