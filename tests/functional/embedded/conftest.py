"""Fixtures for the embedded transport suite: a data directory and peer processes."""

import os
import sys
import time

import pytest
from peer_process import PeerProcess

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "embedded_peer.py")
TIMEOUT = 60


class Peers:
    def __init__(self, config, log_dir):
        self.config = config
        self.log_dir = log_dir
        self.started = []

    def start(self, role, label, topic, **options):
        argv = [sys.executable, PEER, role, "--config-file", self.config, "--topic", topic]
        for key, value in options.items():
            argv += [f"--{key}", str(value)]
        peer = PeerProcess(label, argv, os.path.join(str(self.log_dir), f"{label}.stderr"))
        self.started.append(peer)
        return peer

    def server(self, topic, server):
        return self.start("server", server, topic, server=server)

    def stop_all(self, timeout=15):
        for peer in self.started:
            peer.request_stop()
        deadline = time.monotonic() + timeout
        for peer in self.started:
            peer.stop(max(0.1, deadline - time.monotonic()))


@pytest.fixture
def embedded_config(request, tmp_path):
    """A config with no transport_url: the embedded transport, in a directory of the test's.

    The directory is set by ``[embedded] data_dir``, or by ``[DEFAULT] state_path``
    when the test is parametrized indirectly with "state_path".
    """
    how = getattr(request, "param", "data_dir")
    body = "[DEFAULT]\nrpc_response_timeout = 20\n"
    if how == "state_path":
        body += f"state_path = {tmp_path / 'state'}\n"
    else:
        body += f"[embedded]\ndata_dir = {tmp_path / 'queues'}\n"
    path = tmp_path / "embedded.conf"
    path.write_text(body)
    return str(path)


@pytest.fixture
def peers(embedded_config, tmp_path):
    group = Peers(embedded_config, tmp_path)
    yield group
    group.stop_all()
