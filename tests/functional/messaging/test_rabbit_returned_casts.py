"""Casts the broker returns: re-sent just after a reconnect, dropped with a warning otherwise."""

import logging
import threading
import time

import pytest
from rpc_endpoints import Recorder

from svcframe import messaging


def force_reconnect(transport):
    """Make the client's publisher connect again, as after a broker restart."""
    publisher = transport._driver._get_publisher()
    with publisher._lock:
        publisher._drop_connection_locked()


def test_a_cast_returned_just_after_a_reconnect_reaches_its_server_once_it_is_back(
    rpc, topic, caplog
):
    client_transport = rpc.transport()
    client = rpc.client(client_transport, topic)
    client.cast({}, "record", value=0)  # connects; nobody listens yet: dropped
    # Confirmed first: an unconfirmed cast would be re-sent after the reconnect.
    assert client_transport._driver._get_publisher().flush(timeout=5)
    force_reconnect(client_transport)

    with caplog.at_level(logging.INFO, logger="svcframe.messaging.drivers.kombu.returns"):
        client.cast({}, "record", value=1)  # returned: no queue until the server starts
        recorder = Recorder("late")
        started = threading.Timer(1.0, rpc.server, (rpc.transport(), topic, [recorder]))
        started.start()
        recorder.wait_for_records(1, timeout=10)
        started.join()
    assert recorder.received == [1]
    assert "came back after reconnecting" in caplog.text


def test_a_cast_nobody_can_receive_is_dropped_with_a_warning(rpc, topic, caplog):
    transport = rpc.transport()
    client = rpc.client(transport, topic)
    with caplog.at_level(logging.WARNING, logger="svcframe.messaging.drivers.kombu.returns"):
        client.cast({}, "record", value=1)
        # The return comes before the confirm: once confirmed, it has been handled.
        assert transport._driver._get_publisher().flush(timeout=5)
    assert f"to {topic!r}" in caplog.text and "was dropped" in caplog.text
    assert "came back after reconnecting" not in caplog.text


def test_a_call_returned_just_after_a_reconnect_waits_for_its_server(rpc, topic, caplog):
    client_transport = rpc.transport()
    client = rpc.client(client_transport, topic, timeout=15)
    client.cast({}, "record", value=0)  # connects; nobody listens yet: dropped
    assert client_transport._driver._get_publisher().flush(timeout=5)
    force_reconnect(client_transport)

    recorder = Recorder("late")
    started = threading.Timer(1.5, rpc.server, (rpc.transport(), topic, [recorder]))
    with caplog.at_level(logging.INFO, logger="svcframe.messaging.drivers.kombu.returns"):
        started.start()
        # Returned (no queue yet) and held back instead of MessageDeliveryFailure.
        assert client.call({}, "echo", value="held") == "held"
        started.join()
    assert "A call of" in caplog.text and "came back after reconnecting" in caplog.text


def test_a_call_nobody_can_receive_fails_at_once_when_not_just_reconnected(rpc, topic):
    client = rpc.client(rpc.transport(), topic, timeout=15)
    started = time.monotonic()
    with pytest.raises(messaging.MessageDeliveryFailure):
        client.call({}, "echo", value=1)
    assert time.monotonic() - started < 5
