"""The state a service keeps on its host is private to the user running it."""

import os
import pathlib
import pwd
import stat
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from svcframe import db, messaging, statedir
from svcframe.conf import register_messaging_opts
from svcframe.messaging.drivers.embedded import location

SVC_LAUNCH = os.path.join(os.path.dirname(sys.executable), "svc-launch")


class _Echo:
    target = messaging.Target(version="1.0")

    def echo(self, ctxt, value):
        return value


def _conf(state_path):
    conf = cfg.ConfigOpts()
    conf(args=[], project="svcframe-test", default_config_files=[])
    register_messaging_opts(conf)
    from svcframe.conf import database

    database.register_opts(conf)
    conf.set_override("state_path", str(state_path))
    conf.set_override("rpc_response_timeout", 20)
    return conf


@pytest.fixture
def open_umask():
    old = os.umask(0)
    yield
    os.umask(old)


def test_everything_created_under_state_path_is_private_whatever_the_umask(tmp_path, open_umask):
    state = tmp_path / "state"
    conf = _conf(state)
    transport = messaging.get_rpc_transport(conf)
    topic = f"private-{uuid.uuid4().hex}"
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic=topic, server="s1"), [_Echo()], executor="threading"
    )
    server.start()
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
        assert client.call({}, "echo", value=1) == 1
        client.cast({}, "echo", value=2)
        client.prepare(fanout=True).cast({}, "echo", value=3)
        # The default service registry: SQLite in WAL mode, with -wal and -shm files.
        eng = db.create_engine(db.connection_url(conf), 5)
        with eng.connect() as connection:
            connection.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            connection.execute(sa.text("INSERT INTO t VALUES (1)"))
        names = {p.name for p in state.iterdir()}
        assert {"services.sqlite", "services.sqlite-wal", "services.sqlite-shm"} <= names
        seen = 0
        # The queues are in memory, in a directory of their own for this state_path.
        data_dir = location.default_data_dir(str(state))
        assert transport._driver.data_dir == data_dir
        for top in (str(state), data_dir):
            for root, dirs, files in os.walk(top):
                for name in dirs:
                    mode = stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode)
                    assert mode == 0o700, (os.path.join(root, name), oct(mode))
                for name in files:
                    mode = stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode)
                    assert mode == 0o600, (os.path.join(root, name), oct(mode))
                    seen += 1
        for directory in location.private_dirs(data_dir) + [str(state)]:
            assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700, directory
        assert seen >= 5  # the database files, bindings, the queued cast, markers
        eng.dispose()
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def _launch(tmp_path, state):
    config = tmp_path / "svc.conf"
    config.write_text(f"[DEFAULT]\nstate_path = {state}\n")
    return subprocess.run(
        [SVC_LAUNCH, "--binary", "conductor", "--config-file", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_svc_launch_refuses_a_state_directory_others_can_write(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, 0o777)
    result = _launch(tmp_path, state)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(state) in lines[0] and "writable by group or others" in lines[0]
    assert f"chmod 700 {state}" in lines[0]
    assert os.listdir(state) == []  # nothing was created there


def test_svc_launch_refuses_a_data_directory_of_another_user(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory to another user")
    nobody = pwd.getpwnam("nobody").pw_uid
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    data = location.default_data_dir(str(state))
    os.makedirs(data, mode=0o700)
    os.chown(data, nobody, -1)
    result = _launch(tmp_path, state)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(data) in lines[0] and f"owned by uid {nobody}" in lines[0]
    assert "chown" in lines[0]


def test_a_planted_symlink_is_never_followed(tmp_path):
    state = tmp_path / "state"
    conf = _conf(state)
    target = tmp_path / "elsewhere"
    target.write_text("untouched")
    statedir.ensure_private_dir(state)
    os.symlink(target, state / "services.sqlite")
    with pytest.raises(statedir.UnsafeStateDirectory, match="symbolic link"):
        db.connection_url(conf)

    transport = messaging.get_rpc_transport(conf)
    topic = f"planted-{uuid.uuid4().hex}"
    bindings = pathlib.Path(transport._driver.data_dir, "exchanges", f"{topic}_fanout.exchange")
    bindings.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, bindings)
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic=topic, server="s1"), [_Echo()], executor="threading"
    )
    try:
        with pytest.raises(statedir.UnsafeStateDirectory, match="symbolic link"):
            server.start()
    finally:
        transport.cleanup()
    assert target.read_text() == "untouched"
