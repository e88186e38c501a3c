"""svc-manage notifications listen: the conductor's task notifications as they arrive."""

import json
import os
import select
import shutil
import subprocess
import sys
import time
import uuid

import kombu
import pytest

from svcframe.conf import notifications
from svcframe.testing import ServiceRunner, make_test_conf

RABBIT_URL = "rabbit://guest:guest@127.0.0.1:5672/"

pytestmark = pytest.mark.rabbit


def svc_manage_command():
    return shutil.which("svc-manage") or os.path.join(os.path.dirname(sys.executable), "svc-manage")


@pytest.fixture
def conductor(tmp_path):
    """A conductor emitting notifications on a topic of its own; the config file reaching it."""
    conf = make_test_conf(tmp_path / "state", RABBIT_URL, report_interval=1)
    notifications.register_opts(conf)
    topic = f"notifications-{uuid.uuid4().hex[:10]}"
    conf.set_override("driver", ["messagingv2"], group=notifications.GROUP)
    conf.set_override("topics", [topic], group=notifications.GROUP)
    runner = ServiceRunner(conf)
    runner.start("conductor", host="node1")
    config_file = tmp_path / "svc.conf"
    config_file.write_text(
        "[DEFAULT]\n"
        f"transport_url = {RABBIT_URL}\n"
        f"control_exchange = {conf.control_exchange}\n"
        f"state_path = {conf.state_path}\n"
        "rpc_response_timeout = 10\n"
        "[oslo_messaging_notifications]\n"
        f"topics = {topic}\n"
    )
    yield config_file
    runner.close()
    # The notifier's default queues (one per priority used) and the exchange are ours.
    with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//") as conn:
        channel = conn.channel()
        for priority in ("info", "warn"):
            channel.queue_delete(f"{topic}.{priority}")
        channel.exchange_delete(conf.control_exchange)


def rpc_call(config_file, method, *args):
    result = subprocess.run(
        [
            svc_manage_command(),
            "--config-file",
            str(config_file),
            "rpc",
            "call",
            "conductor",
            method,
            "--format",
            "json",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def wait_for_stderr_line(proc, text, timeout):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            line = proc.stderr.readline()
            seen.append(line)
            if text in line:
                return
        if proc.poll() is not None:
            break
    raise AssertionError(f"no {text!r} from svc-manage within {timeout} s: {''.join(seen)}")


def test_listen_prints_the_task_notifications_of_the_conductor(conductor):
    listen = subprocess.Popen(
        [
            svc_manage_command(),
            "--config-file",
            str(conductor),
            "notifications",
            "listen",
            "--event-type",
            "task.*",
            "--format",
            "json",
            "--count",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_stderr_line(listen, "Listening on", timeout=30)
        task = rpc_call(conductor, "create_task", "--arg", "kind=demo")
        rpc_call(
            conductor, "update_task", "--arg", f"task_id={task['id']}", "--arg", "status=running"
        )
        rpc_call(conductor, "update_task", "--arg", f"task_id={task['id']}", "--arg", "status=done")
        out, err = listen.communicate(timeout=30)
    finally:
        if listen.poll() is None:
            listen.kill()
            listen.wait()
    assert listen.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["event_type"] for line in lines] == ["task.create", "task.update", "task.end"]
    assert {line["publisher_id"] for line in lines} == {"conductor.node1"}
    assert {line["priority"] for line in lines} == {"INFO"}
    assert lines[0]["payload"]["id"] == task["id"] and lines[0]["payload"]["kind"] == "demo"
    assert lines[1]["payload"] == {"id": task["id"], "status": "running"}
    assert lines[2]["payload"]["status"] == "done"
