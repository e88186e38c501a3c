"""A registry that goes away under running heartbeats: logged once, resumed by itself.

Each test starts its own server (a PostgreSQL cluster in a temporary
directory, run as the ``postgres`` user, or a redis-server) on a free port,
so the shared servers are never stopped.
"""

import contextlib
import datetime
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from svcframe import servicegroup
from svcframe.cmd.manage import load_config
from svcframe.servicegroup._record import utcnow
from svcframe.testing import wait_until

pytestmark = pytest.mark.slow

PG_BIN = "/usr/lib/postgresql/15/bin"
PASSWORD = "Outage-S3cret"
BINARY = "svc-conductor"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresCluster:
    """A throw-away cluster; trust auth, so any password in the URL is accepted."""

    def __init__(self, directory):
        self.port = free_port()
        self.data = os.path.join(directory, "data")
        self.log = os.path.join(directory, "server.log")
        os.makedirs(self.data)
        postgres = pwd.getpwnam("postgres")
        for path in (directory, self.data):
            os.chown(path, postgres.pw_uid, postgres.pw_gid)
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self):
        return f"postgresql+psycopg2://postgres:{PASSWORD}@127.0.0.1:{self.port}/postgres"

    def start(self):
        options = f"-p {self.port} -k {os.path.dirname(self.data)} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "start")

    def stop(self):
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def _run(self, program, *args):
        command = ["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, program), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=60)


class RedisServer:
    def __init__(self, directory):
        self.port = free_port()
        self.directory = directory
        self.process = None

    @property
    def url(self):
        return f"redis://:{PASSWORD}@127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--requirepass",
                PASSWORD,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.directory,
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_until(self._accepting, timeout=10)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)

    def _accepting(self):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
            return True
        return False


@pytest.fixture
def postgres_cluster():
    if not os.path.exists(os.path.join(PG_BIN, "initdb")) or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL 15 binaries and root to run them as postgres")
    # pytest's own temporary directories are private to root.
    directory = tempfile.mkdtemp(prefix="svcframe-pg-")
    try:
        cluster = PostgresCluster(directory)
        cluster.start()
        yield cluster
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    server = RedisServer(str(tmp_path))
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


def heartbeat_through_outage(api, server, caplog):
    """Report, stop the server, start it again; return the svcframe log records."""
    membership = api.join("node1", BINARY)
    try:
        wait_until(lambda: api.get_up_hosts(BINARY) == ["node1"], timeout=3)
        server.stop()
        # Several report intervals with the server away: still one line.
        time.sleep(3.5 * api.report_interval)
        lost = [r for r in caplog.records if r.name.startswith("svcframe")]
        restarted = utcnow()
        server.start()
        # A restarted Redis has lost its keys; the next report registers again.
        wait_until(lambda: reported_since(api, restarted, reports=2), timeout=8)
        assert membership.running
    finally:
        membership.stop()
    records = [r for r in caplog.records if r.name.startswith("svcframe")]
    return lost, records


def reported_since(api, moment, reports):
    try:
        record = api.get("node1", BINARY)
    except servicegroup.ServiceGroupError:
        return False
    return record.last_seen_up > moment + datetime.timedelta(seconds=reports - 1)


def check_lost_and_back_once(lost, records, location):
    assert [r.levelno for r in lost] == [logging.WARNING]
    assert [r.levelno for r in records] == [logging.WARNING, logging.INFO]
    lost_line, back_line = (r.getMessage() for r in records)
    assert "\n" not in lost_line and "unavailable" in lost_line
    assert location in lost_line and location in back_line
    assert all(PASSWORD not in r.getMessage() for r in records)
    assert all(r.exc_info is None for r in records)


def make_api(tmp_path, **sections):
    config = tmp_path / "svc.conf"
    lines = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{name} = {value}" for name, value in options.items())
    config.write_text("\n".join(lines) + "\n")
    return servicegroup.API(load_config([str(config)], []))


FAST = {"report_interval": 1, "service_down_time": 3, "initial_report_delay": 0}


def test_postgresql_outage(tmp_path, postgres_cluster, caplog):
    caplog.set_level(logging.INFO, logger="svcframe")
    api = make_api(
        tmp_path,
        DEFAULT=FAST,
        database={"connection": postgres_cluster.url, "connect_timeout": 1},
    )
    api.driver.sync_schema()
    caplog.clear()
    lost, records = heartbeat_through_outage(api, postgres_cluster, caplog)
    check_lost_and_back_once(lost, records, f"postgres:***@127.0.0.1:{postgres_cluster.port}")
    api.close()


def test_redis_outage(tmp_path, redis_server, caplog):
    caplog.set_level(logging.INFO, logger="svcframe")
    api = make_api(
        tmp_path,
        DEFAULT=dict(FAST, servicegroup_driver="redis"),
        servicegroup_redis={"url": redis_server.url, "socket_timeout": 1},
    )
    lost, records = heartbeat_through_outage(api, redis_server, caplog)
    check_lost_and_back_once(lost, records, f":***@127.0.0.1:{redis_server.port}")
    api.close()
