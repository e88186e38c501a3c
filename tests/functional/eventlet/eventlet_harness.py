"""Where the eventlet suite's peer script is, and the broker it talks to."""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "eventlet_peer.py")
RABBIT_HOST = os.environ.get("SVCFRAME_TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_PORT = int(os.environ.get("SVCFRAME_TEST_RABBIT_PORT", "5672"))
TRANSPORT_URL = f"rabbit://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/"
AMQP_URL = f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}//"
TIMEOUT = 60
