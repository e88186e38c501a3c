"""Passwords in transport URLs never show in logs, exception messages or tracebacks."""

import logging
import time
import traceback

import pytest
from conftest import RABBIT_HOST, RABBIT_PORT, unique

from svcframe import messaging

pytestmark = pytest.mark.rabbit

PASSWORD = "s3cr3t-Pw"
UNREACHABLE_URL = f"rabbit://guest:{PASSWORD}@127.0.0.1:1/"
WRONG_CREDENTIALS_URL = f"rabbit://nobody:{PASSWORD}@{RABBIT_HOST}:{RABBIT_PORT}/"


def full_text(exc):
    """The exception as a traceback prints it, causes and contexts included."""
    return "".join(traceback.format_exception(exc))


def assert_no_password_logged(caplog):
    leaks = [r.getMessage() for r in caplog.records if PASSWORD in r.getMessage()]
    assert not leaks, leaks


@pytest.fixture(autouse=True)
def debug_logging(caplog):
    caplog.set_level(logging.DEBUG)


def test_transport_url_is_shown_with_the_password_masked(rpc):
    transport = rpc.transport(UNREACHABLE_URL)

    url = messaging.TransportURL.parse(rpc.conf, UNREACHABLE_URL)
    assert str(url) == "rabbit://guest:***@127.0.0.1:1/"
    assert PASSWORD not in repr(url)
    assert PASSWORD not in repr(transport)
    assert "***" in repr(transport)
    assert messaging.mask_password(f"connecting to {UNREACHABLE_URL}") == (
        "connecting to rabbit://guest:***@127.0.0.1:1/"
    )


def test_unreachable_broker_fails_without_revealing_the_password(rpc, caplog):
    transport = rpc.transport(UNREACHABLE_URL)
    client = rpc.client(transport, unique("sftest"), timeout=2, retry=0)

    start = time.monotonic()
    with pytest.raises(messaging.MessagingException) as cast:
        client.cast({}, "record", value=1)
    with pytest.raises(messaging.MessagingException) as call:
        client.call({}, "echo", value=1)

    assert time.monotonic() - start < 3
    for info in (cast, call):
        assert isinstance(info.value, (messaging.TransportUnavailable, messaging.MessagingTimeout))
        assert PASSWORD not in full_text(info.value)
    assert "127.0.0.1:1" in str(cast.value)
    assert_no_password_logged(caplog)


def test_wrong_credentials_fail_fast_without_revealing_the_password(rpc, topic, caplog):
    transport = rpc.transport(WRONG_CREDENTIALS_URL)
    client = rpc.client(transport, topic, timeout=10)

    start = time.monotonic()
    with pytest.raises(messaging.TransportUnavailable) as call:
        client.call({}, "echo", value=1)
    with pytest.raises(messaging.TransportUnavailable) as cast:
        client.cast({}, "record", value=1)
    with pytest.raises(messaging.TransportUnavailable) as serve:
        rpc.server(transport, topic, [])

    # Not retried: a wrong password does not fix itself.
    assert time.monotonic() - start < 3
    for info in (call, cast, serve):
        assert "refused the login" in str(info.value)
        assert "nobody:***@" in str(info.value)
        assert PASSWORD not in full_text(info.value)
    assert_no_password_logged(caplog)
