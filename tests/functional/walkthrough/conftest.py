"""The walkthrough tests: conductor, schedulers and workers as real processes on RabbitMQ.

They reuse the svc-launch harness of ``tests/functional/runtime``.
"""

import os
import socket
import sys

import pytest

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "runtime")
)

from runtime_harness import RABBIT_HOST, RABBIT_PORT  # noqa: E402

_reachable = None


def rabbit_reachable():
    global _reachable
    if _reachable is None:
        try:
            socket.create_connection((RABBIT_HOST, RABBIT_PORT), timeout=2).close()
            _reachable = True
        except OSError:
            _reachable = False
    return _reachable


@pytest.fixture(scope="module", autouse=True)
def _require_rabbit():
    if not rabbit_reachable():
        pytest.skip(f"RabbitMQ is not reachable on {RABBIT_HOST}:{RABBIT_PORT}")
