"""The embedded transport on a machine that goes wrong: hostile names, full or read-only
disk, a data directory deleted under a running service.  A clear error, no spin, nothing
acknowledged lost, and service again once the machine is fixed."""

import json
import logging
import os
import shutil
import subprocess
import threading
import time
import uuid

import kombu
import pytest
from oslo_config import cfg

from svcframe import messaging
from svcframe.conf import register_messaging_opts
from svcframe.messaging import exceptions
from svcframe.testing import wait_until


class _Endpoint:
    target = messaging.Target(version="1.0")

    def __init__(self):
        self.lock = threading.Lock()
        self.records = []

    def echo(self, ctxt, value):
        return value

    def record(self, ctxt, tag):
        with self.lock:
            self.records.append(tag)


class _Service:
    def __init__(self, data_dir):
        conf = cfg.ConfigOpts()
        conf(args=[], project="svcframe-test", default_config_files=[])
        register_messaging_opts(conf)
        conf.set_override("rpc_response_timeout", 20)
        self.transport = messaging.get_rpc_transport(conf, "embedded://" + str(data_dir))
        self.topic = f"failures-{uuid.uuid4().hex}"
        self.endpoint = _Endpoint()
        self.server = messaging.get_rpc_server(
            self.transport,
            messaging.Target(topic=self.topic, server="s1"),
            [self.endpoint],
            executor="threading",
        )
        self.server.start()
        self.client = messaging.get_rpc_client(self.transport, messaging.Target(topic=self.topic))

    def records(self):
        with self.endpoint.lock:
            return list(self.endpoint.records)

    def close(self):
        self.server.stop()
        self.server.wait()
        self.transport.cleanup()


def _cpu_over(seconds):
    """CPU seconds this process used while sleeping ``seconds``: a spinning thread shows."""
    before = time.process_time()
    time.sleep(seconds)
    return time.process_time() - before


@pytest.fixture
def service(tmp_path):
    svc = _Service(tmp_path / "queues")
    yield svc
    svc.close()


@pytest.mark.parametrize("reply_q", ["../../escape", "a/b", "r" * 300, ".claimed"])
def test_a_bad_reply_queue_is_refused_once_and_the_server_keeps_serving(
    service, reply_q, caplog, tmp_path
):
    inner = {
        "method": "echo",
        "args": {"value": 1},
        "_msg_id": uuid.uuid4().hex,
        "_reply_q": reply_q,
        "_unique_id": uuid.uuid4().hex,
    }
    body = json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)})
    driver = service.transport._driver
    with caplog.at_level(logging.WARNING):
        with driver.make_connection() as conn:
            exchange = driver.topic_exchange(driver.default_exchange)
            kombu.Producer(conn.channel()).publish(
                body,
                exchange=exchange,
                routing_key=service.topic,
                declare=[exchange],
                content_type="application/json",
                content_encoding="utf-8",
            )
        assert service.client.call({}, "echo", value="after") == "after"
        assert _cpu_over(1.0) < 0.3
    # Refused once: by the server's check of the reply address, or by the
    # transport's check of the queue name when the reply is sent.
    refusals = [
        r
        for r in caplog.records
        if "unusable reply address" in r.getMessage() or "invalid queue name" in r.getMessage()
    ]
    assert len(refusals) == 1, caplog.text
    assert not os.path.exists(tmp_path / "escape")


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs of the test's own, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a filesystem")
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path):
    filler = path / "filler"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (65536, 4096, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError:
                pass
    return filler


def test_a_full_disk_is_a_clear_error_and_nothing_acknowledged_is_lost(small_disk, caplog):
    svc = _Service(small_disk / "queues")
    try:
        for n in range(20):
            svc.client.cast({}, "record", tag=n)
        wait_until(lambda: len(svc.records()) >= 20)
        filler = _fill(small_disk)
        started = time.monotonic()
        with pytest.raises(exceptions.MessageDeliveryFailure, match="No space left") as info:
            svc.client.cast({}, "record", tag="full")
        assert str(small_disk) in str(info.value)
        with pytest.raises(exceptions.MessageDeliveryFailure, match="No space left"):
            svc.client.call({}, "echo", value="full")
        assert time.monotonic() - started < 2.0
        assert _cpu_over(1.0) < 0.3
        filler.unlink()
        for n in range(20, 40):
            svc.client.cast({}, "record", tag=n)
        assert svc.client.call({}, "echo", value="room again") == "room again"
        # Every cast that was accepted was handled once; the refused one never.
        wait_until(lambda: len(svc.records()) >= 40)
        assert sorted(svc.records()) == list(range(40))
    finally:
        svc.close()


def test_a_read_only_data_directory_is_a_clear_error_until_it_is_writable(small_disk):
    svc = _Service(small_disk / "queues")
    try:
        assert svc.client.call({}, "echo", value=1) == 1
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
        try:
            with pytest.raises(exceptions.MessageDeliveryFailure, match="Read-only"):
                svc.client.cast({}, "record", tag="ro")
            assert _cpu_over(1.0) < 0.3
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
        assert svc.client.call({}, "echo", value=2) == 2
    finally:
        svc.close()


def test_a_data_directory_deleted_under_a_running_service_is_recreated(tmp_path, caplog):
    data_dir = tmp_path / "queues"
    svc = _Service(data_dir)
    try:
        assert svc.client.call({}, "echo", value=1) == 1
        with caplog.at_level(logging.ERROR):
            shutil.rmtree(data_dir, ignore_errors=True)  # as rm -rf would, while in use

            def served():
                try:
                    return svc.client.prepare(timeout=2).call({}, "echo", value=2) == 2
                except exceptions.MessagingException:
                    return False

            wait_until(served, timeout=30)  # at worst one sweep (10 s)
            assert _cpu_over(1.0) < 0.3
        assert oct(os.stat(data_dir).st_mode & 0o777) == "0o700"
        lost = [r for r in caplog.records if "lost its connection" in r.getMessage()]
        assert 1 <= len(lost) <= 4, caplog.text  # the server's and the reply consumer's
    finally:
        svc.close()
