"""The contract between the RPC layer and a transport driver.

A driver moves already-built messages; the RPC client and server above it
own serialization, version checks and dispatch.  Three methods make a
driver: ``send`` (cast, fanout cast or call), ``listen`` (a Listener on the
three consumers of a server target) and ``cleanup``.
"""

import abc
import collections
import logging
import os

__all__ = ["Driver", "Listener", "IncomingMessage", "DuplicateFilter"]

LOG = logging.getLogger(__name__)


class Driver(abc.ABC):
    """A transport driver, loaded by URL scheme from the ``svcframe.drivers`` namespace."""

    def __init__(self, conf, url, default_exchange=None, allowed_remote_exmods=None):
        self.conf = conf
        self.url = url
        self.default_exchange = default_exchange or conf.control_exchange
        self.allowed_remote_exmods = list(allowed_remote_exmods or [])
        self.pid = os.getpid()

    @abc.abstractmethod
    def send(
        self,
        target,
        ctxt,
        message,
        wait_for_reply=False,
        timeout=None,
        call_monitor_timeout=None,
        retry=None,
    ):
        """Send ``message`` (method, args, namespace?, version?) with the serialized ``ctxt``.

        A fanout target goes to every server of the topic; a target with a
        server to that server only; otherwise to one server of the topic.
        With ``wait_for_reply``, block for the reply and return its result
        or raise the remote failure; MessagingTimeout after ``timeout``
        seconds, or after ``call_monitor_timeout`` seconds without a
        heartbeat from the server.  ``retry`` bounds connection attempts
        (None or -1: forever, 0: once).
        """

    @abc.abstractmethod
    def listen(self, target):
        """A Listener for ``target``'s topic, topic.server and fanout consumers."""

    @abc.abstractmethod
    def cleanup(self):
        """Close every connection; the driver is not used afterwards."""

    def _check_pid(self):
        """True once per fork: connections made by the parent must not be used here."""
        if self.pid != os.getpid():
            LOG.debug("Process forked; dropping the parent's connections")
            self.pid = os.getpid()
            return True
        return False


class Listener(abc.ABC):
    """Consumes a server target's messages and hands each to a callback."""

    @abc.abstractmethod
    def start(self, on_message):
        """Start consuming; ``on_message(IncomingMessage)`` runs for each request.

        Requests that cannot be decoded are logged and dropped (with an
        error reply when the caller's address can be read) and never reach
        ``on_message``.
        """

    @abc.abstractmethod
    def stop(self):
        """Stop consuming. When it returns, ``on_message`` is not called again."""

    @abc.abstractmethod
    def cleanup(self):
        """Release the listener's connection."""


class IncomingMessage(abc.ABC):
    """A received request: context, message and the means to answer it."""

    #: True when the request came through the topic's fanout exchange.
    fanout = False

    def __init__(self, ctxt, message, msg_id=None, client_timeout=None):
        self.ctxt = ctxt
        self.message = message
        self.msg_id = msg_id
        self.client_timeout = client_timeout

    @property
    def is_call(self):
        return self.msg_id is not None

    @abc.abstractmethod
    def reply(self, reply=None, failure=None):
        """Send the result (or exc_info ``failure``) to the caller; no-op for a cast."""

    @abc.abstractmethod
    def heartbeat(self):
        """Tell the caller the request is still being worked on (call monitor)."""


class DuplicateFilter:
    """Remembers the last ``size`` unique ids, as oslo.messaging's _MsgIdCache."""

    def __init__(self, size=16):
        self._seen = collections.deque(maxlen=size)

    def is_duplicate(self, unique_id):
        if unique_id is None:
            return False
        if unique_id in self._seen:
            return True
        self._seen.append(unique_id)
        return False
