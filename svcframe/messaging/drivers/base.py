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

__all__ = ["Driver", "Listener", "IncomingMessage", "DuplicateFilter", "no_server_listening"]

LOG = logging.getLogger(__name__)

# This process's pid, kept current across forks: every publish asks, and
# os.getpid() is a system call.
_pid = os.getpid()


def _after_fork_in_child():
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Driver(abc.ABC):
    """A transport driver, loaded by URL scheme from the ``svcframe.drivers`` namespace."""

    def __init__(self, conf, url, default_exchange=None, allowed_remote_exmods=None):
        self.conf = conf
        self.url = url
        self.default_exchange = default_exchange or conf.control_exchange
        self.allowed_remote_exmods = list(allowed_remote_exmods or [])
        self.pid = _pid

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
        transport_options=None,
    ):
        """Send ``message`` (method, args, namespace?, version?) with the serialized ``ctxt``.

        A fanout target goes to every server of the topic; a target with a
        server to that server only; otherwise to one server of the topic.
        With ``wait_for_reply``, block for the reply and return its result
        or raise the remote failure; MessagingTimeout after ``timeout``
        seconds, or after ``call_monitor_timeout`` seconds without a
        heartbeat from the server.  ``retry`` bounds connection attempts
        (None or -1: forever, 0: once).  ``transport_options`` (a
        TransportOptions) with ``at_least_once`` asks the broker to return a
        message no queue takes: MessageUndeliverable, for a cast too.
        """

    def send_notification(self, target, ctxt, message, version, retry=None):
        """Publish a notification ``message`` on ``target.topic`` (``<topic>.<priority>``).

        ``version`` 2.0 wraps it in the message envelope; 1.0 sends it bare.
        """
        raise NotImplementedError(f"{type(self).__name__} does not send notifications")

    def listen_for_notifications(self, targets_and_priorities, pool=None, exclusive=False):
        """A Listener for notifications of each (target, priority); one shared queue per pool.

        ``exclusive``: queues of the listener's own, deleted with its connection.

        Its messages have ``ctxt``, ``message``, ``acknowledge()`` and ``requeue()``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not receive notifications")

    @abc.abstractmethod
    def listen(self, target):
        """A Listener for ``target``'s topic, topic.server and fanout consumers."""

    @abc.abstractmethod
    def cleanup(self):
        """Close every connection; the driver is not used afterwards."""

    def _check_pid(self):
        """True once per fork: connections made by the parent must not be used here."""
        if self.pid != _pid:
            LOG.debug("Process forked; dropping the parent's connections")
            self.pid = _pid
            return True
        return False


def no_server_listening(routing_key, exchange, where):
    """What a driver says when no server takes a call: its address, then ``where`` it looked."""
    return f"No server is listening on {routing_key!r} (exchange {exchange!r}) {where}"


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

    def claim(self):
        """Called by the server when an executor thread is about to run the message.

        False means: do not run it, the broker delivers it again (it was
        received on a connection that has since been lost).
        """
        return True

    def acknowledge(self):
        """Tell the broker this message is handled: it is not delivered again.

        The server calls it when an executor thread starts the message (acking on
        receipt) or when the method has returned or raised (acking after
        processing); a second call does nothing.  Drivers without
        acknowledgements do nothing.
        """
        return None

    def requeue(self):
        """Give the message back to the broker, for another server: it was not started."""
        return None


class DuplicateFilter:
    """Remembers the last ``size`` unique ids, as oslo.messaging's _MsgIdCache."""

    def __init__(self, size=16):
        self._size = size
        self._seen = collections.OrderedDict()

    def is_duplicate(self, unique_id):
        """Whether ``unique_id`` was seen; remembers it if not."""
        if self.seen(unique_id):
            return True
        self.remember(unique_id)
        return False

    def seen(self, unique_id):
        try:
            return unique_id is not None and unique_id in self._seen
        except TypeError:  # not hashable: not an id this side ever sent
            return False

    def remember(self, unique_id):
        if unique_id is None:
            return
        try:
            self._seen[unique_id] = None
        except TypeError:
            return
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)

    def forget(self, unique_id):
        """Let ``unique_id`` through again (its message went back to the broker unprocessed)."""
        if unique_id is not None:
            self._seen.pop(unique_id, None)
