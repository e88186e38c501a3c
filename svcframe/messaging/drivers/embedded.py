"""The embedded driver: RPC between the processes of one host, with no broker.

Used when ``transport_url`` is unset (or ``embedded://``).  Messages are
files under ``[embedded] data_dir``, routed by kombu's filesystem
transport, so topic, server and fanout routing work exactly as on
RabbitMQ.  Two things are changed from kombu's transport so that
competing consumers in several processes are safe: a message file appears
under its final name only once it is complete (write, then rename), and a
consumer claims a file by renaming it inside the data directory (atomic on
one filesystem) before reading it.
"""

import json
import os
import time
import uuid

import kombu
from kombu.transport import filesystem
from kombu.transport.virtual import Empty

from svcframe.conf import messaging as messaging_conf
from svcframe.messaging.drivers.kombu_connection import Backoff
from svcframe.messaging.drivers.kombu_driver import KombuDriver

__all__ = ["EmbeddedDriver"]

_CLAIMED = "claimed"


class _Channel(filesystem.Channel):
    def _queue_bind(self, exchange, routing_key, pattern, queue):
        # kombu creates a new bindings file with open("wb"): two processes
        # binding to a new exchange at once both truncate it, and the first
        # binding is lost (that server never sees a fanout).  Create without
        # truncating, then read-modify-write under the lock.
        path = self._exchange_file(exchange)
        binding = [routing_key or "", pattern or "", queue or ""]
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+b") as f:
            filesystem.lock(f, filesystem.LOCK_EX)
            try:
                content = f.read()
                bindings = json.loads(content) if content.strip() else []
                if binding not in bindings:
                    bindings.insert(0, binding)
                    f.seek(0)
                    f.write(json.dumps(bindings).encode("utf-8"))
                    f.truncate()
            finally:
                filesystem.unlock(f)

    def get_table(self, exchange):
        try:
            return super().get_table(exchange)
        except ValueError:
            # Read between a create and the first write of the bindings file.
            return []

    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(time.monotonic() * 1000)):015d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, "." + name + ".part")
        with open(partial, "wb") as f:
            f.write(json.dumps(payload).encode("utf-8"))
        os.rename(partial, final)

    def _get(self, queue):
        suffix = f".{queue}.msg"
        folder = self.data_folder_in
        claimed_dir = os.path.join(folder, _CLAIMED)
        for name in sorted(n for n in os.listdir(folder) if n.endswith(suffix)):
            if name.partition(".")[2] != suffix[1:]:
                continue
            claimed = os.path.join(claimed_dir, f"{os.getpid()}-{name}")
            try:
                os.rename(os.path.join(folder, name), claimed)
            except FileNotFoundError:
                continue  # another consumer took it first
            try:
                with open(claimed, "rb") as f:
                    payload = f.read()
            finally:
                os.unlink(claimed)
            return json.loads(payload)
        raise Empty()

    def _size(self, queue):
        suffix = f".{queue}.msg"
        return sum(1 for n in os.listdir(self.data_folder_in) if n.partition(".")[2] == suffix[1:])


class _Transport(filesystem.Transport):
    Channel = _Channel


class EmbeddedDriver(KombuDriver):
    """Broker-less transport for one host (``embedded://`` or no transport_url)."""

    supports_confirms = False

    def __init__(self, conf, url, default_exchange=None, allowed_remote_exmods=None):
        messaging_conf.register_opts(conf)
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        path = getattr(url, "virtual_host", None)
        self.data_dir = os.path.abspath(
            os.path.expanduser(path if path and path != "/" else conf.embedded.data_dir)
        )
        self.safe_url = f"embedded://{self.data_dir}"
        self.polling_interval = conf.embedded.polling_interval
        self.control_dir = os.path.join(self.data_dir, "exchanges")
        for directory in (self.data_dir, self.control_dir, os.path.join(self.data_dir, _CLAIMED)):
            os.makedirs(directory, mode=0o700, exist_ok=True)

    def make_connection(self):
        return kombu.Connection(
            transport=_Transport,
            transport_options={
                "data_folder_in": self.data_dir,
                "data_folder_out": self.data_dir,
                "control_folder": self.control_dir,
                "polling_interval": self.polling_interval,
            },
        )

    def new_backoff(self):
        return Backoff(0.1, 0.5, 2.0)

    def topic_exchange(self, name):
        return kombu.Exchange(name, type="topic", durable=False)

    def fanout_exchange(self, topic):
        return kombu.Exchange(f"{topic}_fanout", type="fanout", durable=False)

    def topic_queue(self, name, exchange, routing_key=None):
        return kombu.Queue(name, exchange, routing_key=routing_key or name, durable=False)

    def fanout_queue(self, name, topic):
        return kombu.Queue(name, self.fanout_exchange(topic), routing_key=topic, durable=False)

    def reply_queue(self, name):
        return kombu.Queue(name, routing_key="", durable=False)
