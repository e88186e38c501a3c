"""A launched conductor serves only its RPC API: attributes, hooks and tasks are refused."""

import signal

import pytest
from runtime_harness import SVC_MANAGE, run_cli

from svcframe import messaging

pytestmark = [pytest.mark.rabbit, pytest.mark.slow, pytest.mark.timeout(90)]

NOT_RPC = ["conf", "host", "init_host", "reset", "periodic_tasks", "mark_stale_tasks"]


def assert_no_such_method(client, method, **kwargs):
    with pytest.raises(messaging.RemoteError) as info:
        client.call(method, **kwargs)
    assert info.value.exc_type == "NoSuchMethod", (method, info.value)


def test_attributes_hooks_and_periodic_tasks_are_not_callable_and_change_nothing(launch):
    service = launch(workers=1, conductor={"stale_task_after": 300})
    service.wait_line("Service ready", timeout=30)

    with service.client() as client:
        before = client.call("describe")
        for method in NOT_RPC:
            result = run_cli(
                SVC_MANAGE,
                "--config-file",
                str(service.conf_path),
                "rpc",
                "call",
                "conductor",
                method,
                "--server",
                service.host,
                "--timeout",
                "10",
            )
            assert result.returncode == 1, (method, result.stdout, result.stderr)
            assert f"no such method {method!r}" in result.stderr, (method, result.stderr)
            assert "Traceback" not in result.stderr
            assert_no_such_method(client, method)
        # Arguments make no difference: the name alone is refused.
        assert_no_such_method(client, "conf", args=["--config-file", "/dev/null"])

        assert client.call("describe") == before
        assert before["stale_task_after"] == 300

        service.configure(conductor={"stale_task_after": 42})
        service.kill(signal.SIGHUP)
        service.wait_line("Reload done", timeout=30)
        after = client.call("describe")
        assert after["stale_task_after"] == 42
        assert after["pid"] == before["pid"]
        task = client.call("create_task", kind="noop")
        assert client.call("get_task", task_id=task["id"])["kind"] == "noop"

    service.kill(signal.SIGTERM)
    assert service.wait(timeout=20) == 0
