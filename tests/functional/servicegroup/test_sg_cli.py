"""svc-manage service/db run as a real process against every backend."""

import json
import os
import subprocess
import sys

import pytest

BINARY = "svc-conductor"


def run(command, expect_status=0):
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == expect_status, (result.stdout, result.stderr)
    return result


def listing(registry, *args):
    command = registry.manage_command("service", "list", "--format", "json", *args)
    return json.loads(run(command).stdout)


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("svc-manage: error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def seeded(registry):
    # Each command is a process start; keep the seeded services up across all of them.
    registry.set_options("DEFAULT", service_down_time=600)
    api = registry.api()
    for host, binary in [("node1", BINARY), ("node2", BINARY), ("node1", "svc-api")]:
        api.driver.report(host, binary, topic=binary.removeprefix("svc-"))
    api.close()
    return registry


def test_list_table(seeded):
    output = run(seeded.manage_command("service", "list")).stdout.splitlines()
    header = [cell.strip() for cell in output[1].strip("|").split("|")]
    assert header == [
        "Binary",
        "Host",
        "Topic",
        "Status",
        "State",
        "Version",
        "Updated At",
        "Disabled Reason",
    ]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in output[3:-1]]
    assert [row[:5] for row in rows] == [
        ["svc-api", "node1", "api", "enabled", "up"],
        [BINARY, "node1", "conductor", "enabled", "up"],
        [BINARY, "node2", "conductor", "enabled", "up"],
    ]
    assert len({len(line) for line in output}) == 1, "every line has the same width"


def test_list_json_and_filters(seeded):
    services = listing(seeded)
    assert [(s["binary"], s["host"], s["state"], s["status"]) for s in services] == [
        ("svc-api", "node1", "up", "enabled"),
        (BINARY, "node1", "up", "enabled"),
        (BINARY, "node2", "up", "enabled"),
    ]
    assert services[0]["report_count"] == 1 and services[0]["updated_at"].endswith("+00:00")
    assert [s["host"] for s in listing(seeded, "--binary", BINARY)] == ["node1", "node2"]
    assert [s["binary"] for s in listing(seeded, "--host", "node1")] == ["svc-api", BINARY]


@pytest.mark.parametrize("registry", ["sqlite"], indirect=True)
def test_admin_commands(seeded):
    # The commands only call the API, whose drivers the behaviour suite covers
    # on every backend; one backend keeps this many process starts affordable.
    run(seeded.manage_command("service", "disable", "node1", BINARY, "--reason", "disk swap"))
    node1 = listing(seeded, "--binary", BINARY, "--host", "node1")[0]
    assert (node1["status"], node1["disabled_reason"]) == ("disabled", "disk swap")
    table = run(seeded.manage_command("service", "list", "--binary", BINARY)).stdout
    assert "disk swap" in table and "disabled" in table

    run(seeded.manage_command("service", "enable", "node1", BINARY))
    node1 = listing(seeded, "--binary", BINARY, "--host", "node1")[0]
    assert (node1["status"], node1["disabled_reason"]) == ("enabled", None)

    run(seeded.manage_command("service", "force-down", "node2", BINARY))
    node2 = listing(seeded, "--host", "node2")[0]
    assert (node2["state"], node2["forced_down"]) == ("down", True)
    run(seeded.manage_command("service", "force-down", "node2", BINARY, "--unset"))
    assert listing(seeded, "--host", "node2")[0]["state"] == "up"

    run(seeded.manage_command("service", "delete", "node2", BINARY))
    assert [s["host"] for s in listing(seeded, "--binary", BINARY)] == ["node1"]


def test_no_such_service(seeded):
    # Every admin command goes through the same driver check (see the behaviour
    # suite); one of them shows how the CLI reports it.
    result = run(seeded.manage_command("service", "disable", "ghost", BINARY), expect_status=1)
    assert_one_line_error(result, "no service 'svc-conductor' on host 'ghost'")


UNREACHABLE = {
    "postgresql": ("database", "connection", "postgresql+psycopg2://svc:Sup3rS3cret@127.0.0.1:9/x"),
    "mariadb": ("database", "connection", "mysql+pymysql://svc:Sup3rS3cret@127.0.0.1:9/x"),
    "redis": ("servicegroup_redis", "url", "redis://:Sup3rS3cret@127.0.0.1:9/0"),
}


@pytest.mark.parametrize("backend", sorted(UNREACHABLE))
def test_unreachable_registry_is_one_masked_line(tmp_path, backend):
    group, option, url = UNREACHABLE[backend]
    config = tmp_path / "svc.conf"
    driver = "redis" if backend == "redis" else "db"
    config.write_text(
        f"[DEFAULT]\nservicegroup_driver = {driver}\n"
        f"[database]\nconnect_timeout = 2\n"
        f"[servicegroup_redis]\nsocket_timeout = 2\n"
        f"[{group}]\n{option} = {url}\n"
    )
    manage = [sys.executable, "-m", "svcframe.cmd.manage", "--config-file", str(config)]
    result = run([*manage, "service", "list"], expect_status=1)
    assert_one_line_error(result, "unavailable", ":***@127.0.0.1:9")
    assert "Sup3rS3cret" not in result.stderr
    if backend != "redis":
        result = run([*manage, "db", "sync"], expect_status=1)
        assert_one_line_error(result, "unavailable", ":***@127.0.0.1:9")
        assert "Sup3rS3cret" not in result.stderr


@pytest.mark.parametrize(
    "content, fragment, status",
    [
        (None, "cannot read config file(s)", 2),
        ("not a config\n[", "cannot parse config file", 2),
        ("[DEFAULT]\nservicegroup_driver = memcache\n", "servicegroup_driver", 2),
    ],
    ids=["missing", "unparsable", "bad-value"],
)
def test_bad_config_file_is_one_line(tmp_path, content, fragment, status):
    config = tmp_path / "svc.conf"
    if content is not None:
        config.write_text(content)
    command = [sys.executable, "-m", "svcframe.cmd.manage", "--config-file", str(config)]
    assert_one_line_error(run([*command, "service", "list"], expect_status=status), fragment)


def test_db_sync_and_version(tmp_path):
    config = tmp_path / "svc.conf"
    config.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n")
    manage = [sys.executable, "-m", "svcframe.cmd.manage", "--config-file", str(config)]
    assert run([*manage, "db", "version"]).stdout.startswith("0 (latest ")
    assert "upgraded from version 0 to 2" in run([*manage, "db", "sync"]).stdout
    assert "already at version 2" in run([*manage, "db", "sync"]).stdout
    assert run([*manage, "db", "version"]).stdout.startswith("2 (latest 2)")
    assert (tmp_path / "state" / "services.sqlite").exists()


@pytest.mark.parametrize("args", [[], ["service"], ["service", "list"], ["db"], ["db", "sync"]])
def test_help_at_every_level(args):
    result = run([sys.executable, "-m", "svcframe.cmd.manage", *args, "--help"])
    assert result.stdout.startswith("usage: svc-manage")
    assert result.stderr == ""


def test_console_script_is_installed():
    result = run([os.path.join(os.path.dirname(sys.executable), "svc-manage"), "--help"])
    assert "command groups" in result.stdout
