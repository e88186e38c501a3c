"""What each service runs, in the registry; administrative commands, on every backend.

A service records its component's release and RPC API version with every
heartbeat; ``service list`` shows them.  ``disable``, ``enable``,
``force-down`` and ``delete`` say what they did and leave the heartbeat time
alone, and take a binary as launched (``conductor``) or as registered
(``svc-conductor``).  An existing SQL registry gets the new columns from
``svc-manage db sync``, its rows kept.
"""

import json
import subprocess
import sys

import sqlalchemy as sa

from svcframe.servicegroup import _models as models
from svcframe.servicegroup import _schema as schema
from svcframe.servicegroup._record import utcnow


def manage(registry, *args, status=0):
    result = subprocess.run(
        registry.manage_command(*args), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == status, (result.stdout, result.stderr)
    return result


def listing(registry, *args):
    return json.loads(manage(registry, "service", "list", "--format", "json", *args).stdout)


def table(registry):
    lines = manage(registry, "service", "list").stdout.splitlines()
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1:-1]]
    header, rows = rows[0], rows[2:]
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_release_and_api_version_are_recorded_and_listed(registry):
    api = registry.api()
    api.driver.report("new1", "svc-worker", "worker", release="beta", rpc_api_version="1.1")
    api.driver.report("old1", "svc-worker", "worker", release="alpha", rpc_api_version="1.0")
    # A service of an earlier svcframe reports neither.
    api.driver.report("older", "svc-worker", "worker")
    record = api.get("new1", "svc-worker")
    assert (record.release, record.rpc_api_version) == ("beta", "1.1")
    api.close()

    services = listing(registry)
    assert [(s["host"], s["release"], s["rpc_api_version"]) for s in services] == [
        ("new1", "beta", "1.1"),
        ("old1", "alpha", "1.0"),
        ("older", None, None),
    ]
    assert [(row["Host"], row["Version"]) for row in table(registry)] == [
        ("new1", "1.1 (beta)"),
        ("old1", "1.0 (alpha)"),
        ("older", ""),
    ]


def test_admin_commands_say_what_they_did_and_keep_the_heartbeat_time(registry):
    api = registry.api()
    api.driver.report("node1", "svc-conductor", "conductor")
    heartbeat = api.get("node1", "svc-conductor")
    api.close()

    for args, said in (
        (["disable", "--reason", "maintenance"], "Disabled svc-conductor on node1 (reason: "),
        (["enable"], "Enabled svc-conductor on node1."),
        (["force-down"], "Forced svc-conductor on node1 down."),
        (["force-down", "--unset"], "Cleared the forced down mark of svc-conductor on node1"),
    ):
        command, *options = args
        result = manage(registry, "service", command, "node1", "svc-conductor", *options)
        assert result.stdout.startswith(said), result.stdout
        assert result.stderr == ""

    api = registry.api()
    after = api.get("node1", "svc-conductor")
    api.close()
    assert (after.updated_at, after.last_seen_up) == (heartbeat.updated_at, heartbeat.last_seen_up)
    (service,) = listing(registry)
    assert service["updated_at"] == heartbeat.updated_at.isoformat()

    result = manage(registry, "service", "delete", "node1", "svc-conductor")
    assert result.stdout == "Deleted svc-conductor on node1 from the service registry.\n"
    assert listing(registry) == []


def test_a_binary_as_launched_names_the_registered_service(registry):
    api = registry.api()
    api.driver.report("node1", "svc-conductor", "conductor")
    api.driver.report("node1", "svc-worker", "worker")
    api.close()

    assert [s["binary"] for s in listing(registry, "--binary", "conductor")] == ["svc-conductor"]
    assert [s["binary"] for s in listing(registry, "--binary", "svc-conductor")] == [
        "svc-conductor"
    ]
    result = manage(registry, "service", "disable", "node1", "conductor")
    assert result.stdout.startswith("Disabled svc-conductor on node1")
    assert [s["status"] for s in listing(registry, "--binary", "conductor")] == ["disabled"]

    result = manage(registry, "service", "disable", "node1", "scheduler", status=1)
    assert result.stderr.count("\n") == 1
    assert "scheduler" in result.stderr and "node1" in result.stderr


def test_db_sync_adds_the_version_columns_and_keeps_the_rows(empty_database_url, tmp_path):
    engine = sa.create_engine(empty_database_url)
    with engine.begin() as connection:
        # The registry as the first schema version left it, with one service.
        models.schema_version.create(connection)
        schema.MIGRATIONS[0].apply(connection)
        connection.execute(
            models.schema_version.insert().values(id=1, version=1, updated_at=utcnow())
        )
        connection.execute(
            sa.text(
                "INSERT INTO services (host, " + _quoted(connection, "binary") + ", topic, "
                "report_count, disabled, forced_down, created_at) "
                "VALUES ('node1', 'svc-worker', 'worker', 7, false, false, :now)"
            ),
            {"now": utcnow().replace(tzinfo=None)},
        )
    config = tmp_path / "svc.conf"
    config.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n"
        f"[database]\nconnection = {empty_database_url}\n"
    )
    command = [sys.executable, "-m", "svcframe.cmd.manage", "--config-file", str(config)]
    run = lambda *args: subprocess.run(  # noqa: E731
        [*command, *args], capture_output=True, text=True, timeout=60
    )
    result = run("db", "sync")
    assert result.returncode == 0, result.stderr
    assert "upgraded from version 1 to 2" in result.stdout

    with engine.connect() as connection:
        assert schema.current_version(connection) == schema.LATEST_VERSION == 2
        columns = {c["name"] for c in sa.inspect(connection).get_columns("services")}
    engine.dispose()
    assert {"release", "rpc_api_version"} <= columns
    result = run("service", "list", "--format", "json")
    assert result.returncode == 0, result.stderr
    (service,) = json.loads(result.stdout)
    assert (service["host"], service["report_count"], service["release"]) == ("node1", 7, None)


def _quoted(connection, name):
    return connection.dialect.identifier_preparer.quote(name)
