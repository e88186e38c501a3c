"""A generated component grows its API as its README says, and upgrades rolling.

The component is generated twice: as generated (API 1.0), and with a
method added the documented way (``target`` 1.1, the stub asking for 1.1
with ``prepare(version=...)``, ``RPC_API_VERSION`` left at 1.0).  An old and
a new server run side by side on the embedded transport; a client of the
new code, capped at 1.0 as during an upgrade, keeps both working and
refuses the new method itself; uncapped, it reaches the new method on the
new server while its 1.0 calls still reach the old one.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

from svcframe import context, messaging
from svcframe.cmd.manage import load_config
from svcframe.testing import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

NAME = f"up{uuid.uuid4().hex[:10]}"
PACKAGE = f"svc_{NAME}"
CLASS = NAME.capitalize()
BIN = os.path.dirname(sys.executable)
SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scaffold_server.py")

GOODBYE_SERVER = '''
    def goodbye(self, context, name):
        """API 1.1: take leave of ``name``."""
        return {"farewell": f"Goodbye, {name}!", "host": self.host}
'''
GOODBYE_CLIENT = '''
    def goodbye(self, context, name, host=None):
        """API 1.1: ``{"farewell": ..., "host": ...}``."""
        cctxt = self.prepare("goodbye", host=host, version="1.1")
        return cctxt.call(context, "goodbye", name=name)
'''


def add_goodbye(project):
    """What the generated README's "Growing the API" says to do, for a goodbye() in 1.1."""
    manager = project / PACKAGE / "manager.py"
    text = manager.read_text()
    assert 'target = messaging.Target(version="1.0")' in text
    text = text.replace(
        'target = messaging.Target(version="1.0")', 'target = messaging.Target(version="1.1")'
    )
    text = text.replace("    release = None\n", '    release = "two"\n')
    anchor = "    # -- periodic tasks"
    manager.write_text(text.replace(anchor, GOODBYE_SERVER.lstrip("\n") + "\n" + anchor))

    rpcapi = project / PACKAGE / "rpcapi.py"
    text = rpcapi.read_text()
    assert 'RPC_API_VERSION = "1.0"' in text
    text = text.replace("VERSION_ALIASES = {}", 'VERSION_ALIASES = {"one": "1.0", "two": "1.1"}')
    rpcapi.write_text(text.rstrip("\n") + "\n" + GOODBYE_CLIENT)


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """(old, new): the generated project, and a copy grown to API 1.1."""
    root = tmp_path_factory.mktemp("upgrade")
    old = root / "old" / f"svc-{NAME}"
    result = subprocess.run(
        [os.path.join(BIN, "svc-manage"), "component", "new", NAME, "--dest", str(old)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    new = root / "new" / f"svc-{NAME}"
    shutil.copytree(old, new)
    add_goodbye(new)
    return old, new


@pytest.fixture(scope="module")
def deployment(projects, tmp_path_factory):
    """The old server on host 'old1', the new one on 'new1', sharing one state directory."""
    root = tmp_path_factory.mktemp("deployment")
    processes = []
    try:
        for host, project in zip(("old1", "new1"), projects, strict=True):
            config = root / f"{host}.conf"
            config.write_text(
                f"[DEFAULT]\nstate_path = {root / 'state'}\nhost = {host}\n"
                "report_interval = 1\ninitial_report_delay = 0\nperiodic_enable = false\n"
            )
            log = open(root / f"{host}.log", "wb")  # noqa: SIM115 - closed with the process
            process = subprocess.Popen(
                [sys.executable, SERVER, str(project), PACKAGE, NAME, "--config-file", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            processes.append((process, log, root / f"{host}.log"))
        deadline = time.monotonic() + 60
        for process, _, output in processes:

            def ready(process=process, output=output):
                text = output.read_text()
                assert process.poll() is None, text
                return "Service ready" in text

            wait_until(
                ready,
                max(0.1, deadline - time.monotonic()),
                interval=0.1,
                message=lambda output=output: f"'Service ready' in:\n{output.read_text()}",
            )
        yield root
    finally:
        for process, log, _ in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
            log.close()


@pytest.fixture(scope="module")
def client_class(projects):
    """The new code's client class, imported from the grown project."""
    sys.path.insert(0, str(projects[1]))
    try:
        module = __import__(f"{PACKAGE}.rpcapi", fromlist=["rpcapi"])
        yield getattr(module, f"{CLASS}API")
    finally:
        sys.path.remove(str(projects[1]))


def make_client(client_class, deployment, cap=None):
    config = deployment / "client.conf"
    text = f"[DEFAULT]\nstate_path = {deployment / 'state'}\nrpc_response_timeout = 20\n"
    if cap is not None:
        text += f"[upgrade_levels]\n{NAME} = {cap}\n"
    config.write_text(text)
    conf = load_config([str(config)], [])
    return client_class(conf=conf)


def test_the_grown_code_keeps_the_clients_default_version(projects):
    old, new = projects
    for project in (old, new):
        assert 'RPC_API_VERSION = "1.0"' in (project / PACKAGE / "rpcapi.py").read_text()
    assert 'version="1.1"' in (new / PACKAGE / "manager.py").read_text()
    # The steps add_goodbye() follows are the README's.
    readme = (old / "README.md").read_text()
    assert 'bump `target` to\n   `messaging.Target(version="1.1")`' in readme
    assert 'leave `RPC_API_VERSION` at `"1.0"`' in readme
    assert 'cctxt = self.prepare("goodbye", host=host, version="1.1")' in readme


def test_a_capped_client_uses_old_and_new_servers_and_refuses_the_new_method(
    deployment, client_class
):
    api = make_client(client_class, deployment, cap="one")
    ctxt = context.get_admin_context()
    try:
        assert not api.can_send_version("1.1")
        for host in ("old1", "new1"):
            assert api.hello(ctxt, "Ada", host=host) == {"greeting": "Hello, Ada!", "host": host}
        # Refused in the client: nothing is sent that an old server would reject.
        with pytest.raises(messaging.RPCVersionCapError):
            api.goodbye(ctxt, "Ada", host="new1")
    finally:
        api.transport.cleanup()


def test_uncapped_the_new_method_reaches_new_servers_and_old_calls_still_reach_old_ones(
    deployment, client_class
):
    api = make_client(client_class, deployment)
    ctxt = context.get_admin_context()
    try:
        assert api.can_send_version("1.1")
        assert api.goodbye(ctxt, "Ada", host="new1") == {
            "farewell": "Goodbye, Ada!",
            "host": "new1",
        }
        # hello() still carries 1.0, so the old server serves it.
        assert api.hello(ctxt, "Ada", host="old1")["host"] == "old1"
        with pytest.raises(messaging.RemoteError) as info:
            api.goodbye(ctxt, "Ada", host="old1")
        assert info.value.exc_type == "UnsupportedVersion"
    finally:
        api.transport.cleanup()


def test_ping_shows_which_server_runs_which_version(deployment):
    config = deployment / "client.conf"
    rows = {}
    for host in ("old1", "new1"):
        result = subprocess.run(
            [os.path.join(BIN, "svc-manage"), "--config-file", str(config), "rpc", "ping"]
            + [NAME, "--server", host, "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        (row,) = json.loads(result.stdout)
        rows[host] = (row["api_version"], row["release"])
    # The old code names no release, and is not installed: no package version either.
    assert rows == {"old1": ("1.0", None), "new1": ("1.1", "two")}
