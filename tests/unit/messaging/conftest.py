"""Fixtures for messaging unit tests: a private config and fake transports."""

import uuid

import pytest
from oslo_config import cfg

from svcframe import messaging
from svcframe.conf import register_messaging_opts


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    register_messaging_opts(conf)
    conf([], project="svcframe-tests", default_config_files=[], default_config_dirs=[])
    return conf


@pytest.fixture
def fake_url():
    """A fake:// URL on a virtual host of its own, so tests never share queues."""
    return f"fake:///{uuid.uuid4().hex}"


@pytest.fixture
def make_transport(conf, fake_url):
    transports = []

    def make(url=None, allowed_remote_exmods=None):
        transport = messaging.get_rpc_transport(
            conf, url or fake_url, allowed_remote_exmods=allowed_remote_exmods
        )
        transports.append(transport)
        return transport

    yield make
    for transport in transports:
        transport.cleanup()


@pytest.fixture
def transport(make_transport):
    return make_transport()


@pytest.fixture
def make_server(transport):
    servers = []

    def make(endpoints, topic="topic", server="host1", executor="threading", **kwargs):
        target = messaging.Target(topic=topic, server=server, **kwargs.pop("target_kw", {}))
        srv = messaging.get_rpc_server(
            kwargs.pop("transport", transport), target, endpoints, executor=executor, **kwargs
        )
        srv.start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()
        srv.wait()
