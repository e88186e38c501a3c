"""Passwords in odd URL shapes never reach svc-manage output, log lines or RPC callers.

Real PostgreSQL (a role created for the test, with the password in the URL
written two ways), a real conductor on RabbitMQ, the real console scripts.
The shared server trusts local connections, so a connection error is forced
with a port nothing listens on.
"""

import signal
import uuid

import pytest
import sqlalchemy as sa
from runtime_harness import RABBIT_HOST, RABBIT_PORT, SVC_LAUNCH, SVC_MANAGE, run_cli

from svcframe import messaging

pytestmark = [pytest.mark.rabbit, pytest.mark.slow, pytest.mark.timeout(120)]

PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
CLOSED_PORT = 9


@pytest.fixture
def pg_role():
    """(role, password): a login role with a schema of its own; dropped afterwards."""
    role = f"svcsec_{uuid.uuid4().hex[:10]}"
    # ',' '/' ':' and a space: each has broken a masking rule before.
    password = f"Pw,{uuid.uuid4().hex[:8]}/x: y"
    try:
        engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD :pw"), {"pw": password})
            connection.execute(sa.text(f"CREATE SCHEMA {role} AUTHORIZATION {role}"))
            connection.execute(sa.text(f"ALTER ROLE {role} SET search_path = {role}"))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    yield role, password
    with engine.connect() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {role} CASCADE"))
        connection.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
    engine.dispose()


def url_shapes(role, password, port=5432):
    """The two ways to write the password: in the userinfo, and in the query string."""
    return {
        "userinfo": f"postgresql+psycopg2://{role}:{password}@127.0.0.1:{port}/test",
        "query": f"postgresql+psycopg2://{role}@127.0.0.1:{port}/test?password={password}",
    }


def secret_parts(password):
    # Any piece of it would do to guess the rest.
    return [password, *(piece for piece in password.replace(",", " ").split() if len(piece) > 3)]


def assert_never_shown(password, *outputs):
    text = "\n".join(outputs)
    for part in secret_parts(password):
        assert part not in text, f"{part!r} shown in:\n{text}"


def svc_manage(config, *args):
    return run_cli(SVC_MANAGE, "--config-file", str(config), *args, timeout=60)


def write_database_config(path, url, state_path):
    path.write_text(
        f"[DEFAULT]\nstate_path = {state_path}\n"
        f"[database]\nconnection = {url}\nconnect_timeout = 2\n"
    )
    return path


@pytest.mark.parametrize("shape", ["userinfo", "query"])
def test_svc_manage_never_prints_a_database_password(tmp_path, pg_role, shape):
    role, password = pg_role
    good = write_database_config(
        tmp_path / "good.conf", url_shapes(role, password)[shape], tmp_path / "state"
    )
    closed = write_database_config(
        tmp_path / "closed.conf",
        url_shapes(role, password, CLOSED_PORT)[shape],
        tmp_path / "state",
    )

    synced = svc_manage(good, "--debug", "db", "sync")
    assert synced.returncode == 0, synced.stderr
    listed = svc_manage(good, "--debug", "service", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "[]"

    plain = svc_manage(closed, "service", "list")
    debug = svc_manage(closed, "--debug", "service", "list")
    for failed in (plain, debug):
        assert failed.returncode == 1, failed
        assert "127.0.0.1" in failed.stderr
    assert "Traceback (most recent call last)" in debug.stderr
    assert ":***@127.0.0.1:9/test" in plain.stderr or "password=***" in plain.stderr
    outputs = [r.stdout + r.stderr for r in (synced, listed, plain, debug)]
    assert_never_shown(password, *outputs)


@pytest.mark.parametrize("shape", ["userinfo", "query"])
def test_heartbeat_warnings_and_conductor_errors_never_show_the_password(launch, pg_role, shape):
    role, password = pg_role
    service = launch(
        workers=1,
        DEFAULT={"rpc_send_tracebacks": "false"},
        database={
            "connection": url_shapes(role, password, CLOSED_PORT)[shape],
            "connect_timeout": 1,
        },
    )
    service.wait_line("Service ready", timeout=30)
    service.wait_line("Heartbeat of svc-conductor on", timeout=20)

    with service.client() as client:
        with pytest.raises(messaging.RemoteError) as info:
            client.call("create_task", kind="noop", timeout=20)
        error = info.value
        assert error.exc_type == "TaskDatabaseError"
        assert error.traceback == []
        assert "the tasks database is unavailable (OperationalError in create)" in error.value
        # No database text at all: not the user, not the host, not the password.
        assert role not in error.value and "127.0.0.1" not in error.value

        # With tracebacks on (a mutable option), the traceback does not chain the raw error.
        service.configure(DEFAULT={"rpc_send_tracebacks": "true"})
        service.kill(signal.SIGHUP)
        service.wait_line("Reload done", timeout=30)
        with pytest.raises(messaging.RemoteError) as info:
            client.call("create_task", kind="noop", timeout=20)
        trace = "".join(info.value.traceback)
        assert "Traceback (most recent call last)" in trace
        assert "TaskDatabaseError" in trace
        assert role not in trace and "psycopg2" not in trace
        assert client.call("describe")["host"] == service.host

    service.kill(signal.SIGTERM)
    assert service.wait(timeout=20) == 0
    warnings = [line for line in service.lines() if line.startswith("Heartbeat of svc-conductor")]
    assert warnings and "failed, retrying every 1s" in warnings[0]
    assert_never_shown(password, service.stderr(), service.stdout())


def test_a_transport_url_password_never_shows(tmp_path):
    password = f"Wr,{uuid.uuid4().hex[:8]}/P@ss w"
    url = f"rabbit://guest:{password}@{RABBIT_HOST}:{RABBIT_PORT}/"
    config = tmp_path / "svc.conf"
    config.write_text(
        f"[DEFAULT]\ntransport_url = {url}\nstate_path = {tmp_path / 'state'}\n"
        "rpc_response_timeout = 5\n"
        "[oslo_messaging_rabbit]\nrabbit_retry_interval = 1\n"
    )
    outputs = []
    for debug in ([], ["--debug"]):
        result = svc_manage(config, *debug, "rpc", "call", "conductor", "describe")
        assert result.returncode == 1, result
        outputs += [result.stdout, result.stderr]
    launched = run_cli(
        SVC_LAUNCH, "--binary", "conductor", "--config-file", str(config), timeout=60
    )
    assert launched.returncode != 0
    outputs += [launched.stdout, launched.stderr]
    assert any("guest:***@" in output for output in outputs), outputs
    assert_never_shown(password, *outputs)
