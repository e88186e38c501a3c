"""The hasher on the in-process fake:// transport (--svc-transport-url for a broker)."""

import hashlib

import pytest
from svcframe import messaging
from svcframe.testing import wait_until

from svc_hasher.manager import UnknownAlgorithm
from svc_hasher.rpcapi import HasherAPI


def test_digest(svc_service, svc_client, svc_context):
    svc_service("hasher")
    api = svc_client(HasherAPI)
    assert api.digest(svc_context, "abc") == hashlib.sha256(b"abc").hexdigest()
    assert api.digest(svc_context, "abc", "md5") == hashlib.md5(b"abc").hexdigest()


def test_unknown_algorithm_is_raised_as_itself(svc_service, svc_client, svc_context):
    svc_service("hasher")
    # HasherAPI lists ALLOWED_REMOTE_EXMODS: svc_client gives it a transport
    # of its own that allows them.
    with pytest.raises(UnknownAlgorithm):
        svc_client(HasherAPI).digest(svc_context, "abc", "nope")


def test_unknown_algorithm_is_raised_as_itself_by_a_standalone_client(
    svc_service, svc_conf, svc_context
):
    svc_service("hasher")
    # A client that makes its own transport applies ALLOWED_REMOTE_EXMODS too.
    api = HasherAPI(conf=svc_conf)
    try:
        with pytest.raises(UnknownAlgorithm):
            api.digest(svc_context, "abc", "nope")
    finally:
        api.transport.cleanup()


def test_unknown_algorithm_is_a_remote_error_where_not_allowed(
    svc_service, svc_client, svc_transport, svc_context
):
    svc_service("hasher")
    # The test's own transport allows no component's module: only builtin
    # exceptions come back as themselves.
    api = svc_client(HasherAPI, transport=svc_transport)
    with pytest.raises(messaging.RemoteError) as caught:
        api.digest(svc_context, "abc", "nope")
    assert caught.value.exc_type == "UnknownAlgorithm"


def test_stats_come_from_the_host_asked(svc_service, svc_client, svc_context):
    svc_service("hasher", host="node1")
    svc_service("hasher", host="node2")
    api = svc_client(HasherAPI)
    assert api.stats(svc_context, "node2")["host"] == "node2"


def test_reset_stats_reaches_every_service(svc_service, svc_client, svc_context):
    services = [svc_service("hasher", host=host) for host in ("node1", "node2")]
    api = svc_client(HasherAPI)
    for _ in range(4):
        api.digest(svc_context, "abc")
    api.reset_stats(svc_context)  # a cast returns at once: wait for its effect
    for service in services:
        wait_until(
            lambda host=service.host: api.stats(svc_context, host)["digests"] == 0,
            timeout=5,
            message=f"the reset on {service.host}",
        )


def test_default_algorithm_is_reloadable(svc_conf, svc_service, svc_client, svc_context):
    svc_service("hasher")
    svc_conf.set_override("default_algorithm", "md5", group="hasher")
    assert svc_client(HasherAPI).digest(svc_context, "abc") == hashlib.md5(b"abc").hexdigest()
