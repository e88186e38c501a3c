"""nova's baseapi client against ``svc-launch --binary conductor`` (control_exchange nova).

The client runs in its own process: nova's ``nova.baserpc.BaseAPI`` when
the interpreter named by ``SVCFRAME_TEST_NOVA_PYTHON`` (or this one) has
nova installed, else an oslo.messaging client built the same way.  The
service runs on a virtual host of its own, so the ``nova`` exchange and the
``conductor`` queue are never shared with anything else on the broker.
"""

import json
import os
import signal
import subprocess
import sys

import pytest
from interop_harness import (
    HERE,
    RABBIT_HOST,
    RABBIT_PORT,
    create_vhost,
    delete_vhost,
    peer_env,
    unique,
)

pytestmark = [pytest.mark.rabbit, pytest.mark.slow]

PEER = os.path.join(HERE, "nova_baseapi_peer.py")
SVC_LAUNCH = os.path.join(os.path.dirname(sys.executable), "svc-launch")


@pytest.fixture
def vhost(rabbit):
    name = create_vhost("nova-baseapi")
    if name is None:
        pytest.skip("cannot create a RabbitMQ virtual host (rabbitmqctl)")
    yield name
    delete_vhost(name)


@pytest.fixture
def conductor(tmp_path, vhost):
    """``svc-launch --binary conductor`` as nova's conductor would be reached; its host name."""
    host = unique("conductor-host")
    config = tmp_path / "svc.conf"
    config.write_text(
        "[DEFAULT]\n"
        f"transport_url = rabbit://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/{vhost}\n"
        "control_exchange = nova\n"
        f"host = {host}\n"
        f"state_path = {tmp_path / 'state'}\n"
        "use_stderr = true\n"
    )
    stderr = open(tmp_path / "svc-launch.log", "wb")
    proc = subprocess.Popen(
        [SVC_LAUNCH, "--binary", "conductor", "--workers", "1", "--config-file", str(config)],
        stdout=stderr,
        stderr=stderr,
        start_new_session=True,
    )
    try:
        yield config, host, tmp_path / "svc-launch.log"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr.close()


def test_nova_baseapi_ping_and_get_backdoor_port(conductor):
    config, host, log = conductor
    python = os.environ.get("SVCFRAME_TEST_NOVA_PYTHON", sys.executable)
    out = subprocess.run(
        [python, PEER, "--config-file", str(config), "--host", host],
        capture_output=True,
        text=True,
        timeout=120,
        env=peer_env(),
    )
    assert out.returncode == 0, out.stderr[-4000:] + "\nsvc-launch:\n" + log.read_text()[-4000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print("client:", result["client"])
    # nova's reply keys, as nova's BaseRPCAPI.ping returns them.
    assert result["ping"]["service"] == "conductor"
    assert result["ping"]["arg"] == {"hello": "svcframe"}
    # No backdoor: None, as nova answers without one.
    assert result["backdoor_port"] is None
