"""Connecting to a kombu transport, and a consumer thread that survives broker loss.

``ConsumerThread`` is the one place that knows how to keep consuming
across reconnects (kombu's ConsumerMixin, reduced to what RPC needs):
subclasses say which consumers to declare and what to do with a message;
the loop connects, declares, drains, checks heartbeats, and on a
connection error logs once and reconnects: the first attempt at once (the
broker is often back already, and servers must re-declare their queues
before callers notice), later ones after a short, growing delay.

A kombu connection belongs to one thread: acks and rejects decided
elsewhere are handed to the thread (``flush()`` runs after every drain).
"""

import collections
import functools
import logging
import random
import socket
import threading
import time

import amqp
import amqp.exceptions
import kombu

from svcframe import metrics
from svcframe.masking import mask_password
from svcframe.messaging import exceptions
from svcframe.messaging.drivers.kombu import frames

__all__ = [
    "amqp_connection",
    "drainer",
    "ReconnectBackoff",
    "connect",
    "ConsumerThread",
    "connection_errors",
    "start_kombu_consumers",
]

LOG = logging.getLogger(__name__)

# How long one drain may block: bounds how fast stop() and heartbeats react.
DRAIN_TIMEOUT = 0.2
FIRST_CONNECT_RETRIES = 1
# Delays between attempts to reach a broker that went away after serving:
# short enough that queues are back within a second of the broker, growing
# so that a long outage is not a busy loop.
RECONNECT_DELAY_START = 0.25
RECONNECT_DELAY_STEP = 0.25
RECONNECT_DELAY_MAX = 1.0
# Declares refused after a reconnect retried at the reconnect pace before
# the full backoff: a restarted broker's queues take seconds to recover.
QUICK_DECLARE_RETRIES = 30
# A connection lost sooner than this after it was made backs off fully.
SHORT_LIVED_CONNECTION = 1.0


def connection_errors(conn):
    """The exceptions that mean 'the connection is gone, reconnect'."""
    return (
        tuple(conn.connection_errors)
        + tuple(conn.recoverable_connection_errors)
        + (OSError, socket.timeout, EOFError, amqp.exceptions.ConnectionError)
    )


class ReconnectBackoff:
    """Delays between attempts to reach the broker, growing linearly.

    ``start`` (rabbit_retry_interval), then ``step`` (rabbit_retry_backoff)
    more after each attempt, capped at ``maximum`` (rabbit_interval_max),
    plus a random ``splay`` (kombu_reconnect_splay) so that a cluster's
    clients do not all come back at once.
    """

    def __init__(self, start, step, maximum, splay=0.0):
        self.start, self.step, self.maximum, self.splay = start, step, maximum, splay
        self.attempts = 0

    def next(self):
        delay = min(self.start + self.step * self.attempts, self.maximum)
        self.attempts += 1
        if self.splay:
            delay += random.uniform(0, self.splay)
        return max(delay, 0.0)

    def reset(self):
        self.attempts = 0


def reconnect_backoff(driver):
    """The delays between attempts to reach a broker that was lost after serving."""
    splay = getattr(getattr(driver, "opts", None), "kombu_reconnect_splay", 0.0) or 0.0
    return ReconnectBackoff(RECONNECT_DELAY_START, RECONNECT_DELAY_STEP, RECONNECT_DELAY_MAX, splay)


def connect(driver, what, retry=None, deadline=None, stop_event=None, backoff=None):
    """A connected kombu Connection, retrying with backoff.

    ``retry`` None or -1 retries forever, 0 tries once, N retries N times;
    ``deadline`` (monotonic) and ``stop_event`` end the attempts early.
    Bad credentials are not retried: they do not fix themselves.
    """
    backoff = backoff or driver.new_backoff()
    attempt = 0
    while True:
        conn = driver.make_connection()
        try:
            # One pass over the broker hosts, without kombu's own sleeps:
            # the backoff between passes is ours, and interruptible.
            conn.ensure_connection(
                max_retries=max(1, len(conn.alt)) if conn.alt else 1,
                interval_start=0,
                interval_step=0,
                interval_max=0,
                reraise_as_library_errors=False,
            )
            if attempt:
                LOG.info("%s connection to %s re-established", what, driver.safe_url)
            return conn
        except amqp.exceptions.AccessRefused as exc:
            _close_quietly(conn)
            raise exceptions.TransportUnavailable(
                f"The broker at {driver.safe_url} refused the login: "
                f"{mask_password(str(exc)).rstrip('.')}. Check the user and password in "
                "transport_url."
            )
        except Exception as exc:
            _close_quietly(conn)
            if not isinstance(exc, connection_errors(conn)):
                raise
            attempt += 1
            exhausted = retry is not None and retry >= 0 and attempt > retry
            delay = backoff.next()
            if deadline is not None and time.monotonic() + delay >= deadline:
                exhausted = True
            reason = mask_password(str(exc)) or type(exc).__name__
            if exhausted:
                raise exceptions.TransportUnavailable(
                    f"Unable to connect to the broker at {driver.safe_url} "
                    f"after {attempt} attempt(s): {reason}"
                )
            level = logging.ERROR if attempt == 1 else logging.DEBUG
            LOG.log(
                level,
                "%s connection to %s failed: %s; retrying in %.1f s",
                what,
                driver.safe_url,
                reason,
                delay,
            )
            if stop_event is not None:
                if stop_event.wait(delay):
                    raise exceptions.TransportUnavailable("stopped while connecting")
            else:
                time.sleep(delay)


def amqp_connection(conn):
    """The py-amqp connection under the kombu connection ``conn``; None on other transports."""
    raw = getattr(conn, "_connection", None)
    return raw if isinstance(raw, amqp.Connection) else None


def drainer(conn, wakeup=None):
    """The drain of ``conn``'s transport connection, without kombu's wrapper.

    kombu's ``Connection.drain_events`` checks that the connection is still
    connected on every call (three property lookups and a socket check): a
    tenth of a busy consumer thread, for what the read itself reports.  On
    RabbitMQ the frames are read many at a time (see ``frames``), and a
    ``wakeup`` set by another thread ends a drain that waits.
    """
    raw = amqp_connection(conn)
    return conn.drain_events if raw is None else functools.partial(frames.drain, raw, wakeup=wakeup)


def start_kombu_consumers(driver, channel, queues, on_message, **callbacks):
    """A declared, consuming kombu Consumer per queue, whose messages are acked by hand.

    For the transports that deliver kombu Messages (embedded, fake); a
    RabbitMQ channel is consumed without kombu's Message instead.
    """
    consumers = []
    for queue in queues:
        consumer = kombu.Consumer(
            channel,
            queues=[queue],
            on_message=on_message,
            no_ack=False,
            **callbacks,
            **driver.consumer_options(),
        )
        consumer.declare()
        consumer.consume()
        consumers.append(consumer)
    return consumers


def _close_quietly(conn):
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail in many ways
        pass


class ConsumerThread(threading.Thread):
    """A daemon thread that consumes until stopped, reconnecting as needed.

    Subclasses implement ``declare(conn, channel)`` returning the started
    consumers (objects with ``cancel()``), and may override
    ``on_connected()``, ``flush()`` (settle what other threads decided,
    called after every drain) and ``drain_timeout()``.

    ``stop_consuming()`` cancels the consumers from within the thread but
    keeps the connection served, so that the messages already received can
    still be acked or given back; ``stop()`` ends the thread.
    """

    def __init__(self, driver, name):
        super().__init__(name=name, daemon=True)
        self.driver = driver
        self.conn = None
        self.ready = threading.Event()
        self.failed = None
        self._consumers = []
        self._stopping = threading.Event()  # stop consuming
        self._cancelled = threading.Event()  # consumers cancelled: no more deliveries
        self._exiting = threading.Event()  # leave the thread
        self._done = threading.Event()
        self._declare_failures = 0
        # Work other threads hand to this one (acks of messages handled
        # elsewhere): a kombu connection belongs to one thread.
        self._soon = collections.deque()
        self._wakeup = frames.Wakeup()

    def declare(self, conn, channel):
        raise NotImplementedError

    def on_connected(self):
        """Called in the thread after every (re)connection and declare."""

    def flush(self):
        """Called in the thread after every drain: settle what other threads asked for."""

    def final_flush(self):
        """Called in the thread before it leaves: settle everything left."""
        self.flush()

    def drain_timeout(self):
        return self.driver.drain_timeout

    def start_and_wait(self, timeout):
        """Start the thread and wait until it consumes: False if it does not in time.

        Raises what stopped it from starting (the broker unreachable, a
        refused declare), for the caller to say.
        """
        self.start()
        self.ready.wait(timeout)
        if self.failed is not None:
            raise self.failed
        return self.ready.is_set()

    def interrupt(self):
        """End a drain blocked in the thread: on RabbitMQ, embedded and fake.

        The thread then need not wake on a timer to notice a stop or a
        settlement handed over by another thread.
        """
        self._wakeup.set()
        interrupt = getattr(getattr(self.conn, "_transport", None), "interrupt", None)
        if interrupt is not None:
            interrupt()

    def run(self):
        backoff = self.driver.new_backoff()
        declare_backoff = reconnect_backoff(self.driver)
        first = True
        lost = False
        short_lived = 0
        try:
            while not self._stopping.is_set():
                try:
                    self._connect_and_declare(first, lost)
                except exceptions.TransportUnavailable as exc:
                    if self._stopping.is_set():
                        break
                    if first:
                        # Whoever waits for our start gets the reason, and says it.
                        self.failed = exc
                        self.ready.set()
                        LOG.debug("%s: %s", self.name, exc)
                        return
                    # Refused after having served (e.g. the password was
                    # changed on the broker): keep trying, loudly.
                    LOG.error("%s: %s", self.name, exc)
                    if self._stopping.wait(backoff.next()):
                        break
                    continue
                except Exception as exc:
                    # The broker refused a declare (406 PRECONDITION_FAILED:
                    # the queue or exchange exists with other flags, 403). At
                    # start, that will not fix itself: fail start() with it.
                    if first:
                        self.failed = exc
                        self.ready.set()
                        LOG.error("%s: %s", self.name, mask_password(str(exc)))
                        return
                    # After serving: said once, then retried quietly with
                    # the full backoff until an operator fixes it.
                    self._declare_failures += 1
                    level = logging.ERROR if self._declare_failures == 1 else logging.DEBUG
                    LOG.log(
                        level,
                        "%s: could not declare its queues after reconnecting: %s",
                        self.name,
                        mask_password(str(exc)) or type(exc).__name__,
                    )
                    # A broker that just restarted refuses declares for a few
                    # seconds while its quorum queues recover: retry as fast
                    # as a reconnect at first, then with the full backoff.
                    if self._declare_failures <= QUICK_DECLARE_RETRIES:
                        delay = declare_backoff.next()
                    else:
                        delay = backoff.next()
                    if self._stopping.wait(delay):
                        break
                    continue
                first = False
                self._declare_failures = 0
                declare_backoff.reset()
                connected_at = time.monotonic()
                lost = not self._consume_until_error_or_stop()
                if not lost:
                    continue
                if time.monotonic() - connected_at >= SHORT_LIVED_CONNECTION:
                    short_lived = 0
                    backoff.reset()
                    declare_backoff.reset()
                    continue
                short_lived += 1
                if short_lived > 1:
                    # Lost again right after connecting: a broker still
                    # recovering, or something that fails every time; never a
                    # busy loop, and the full backoff once it lasts.
                    if short_lived <= QUICK_DECLARE_RETRIES:
                        delay = declare_backoff.next()
                    else:
                        delay = backoff.next()
                    if self._stopping.wait(delay):
                        break
            if self.conn is not None:
                self._cancel_consumers()
                self._cancelled.set()
                self._serve_until_exit()
        finally:
            self._cancelled.set()
            self._done.set()

    def _connect_and_declare(self, first, lost):
        # At start-up an unreachable broker is an error for whoever starts us
        # (a worker that cannot boot should say so, not hang); once we have
        # served, a lost broker is waited for as long as it takes.
        if first:
            conn = connect(
                self.driver, self.name, retry=FIRST_CONNECT_RETRIES, stop_event=self._stopping
            )
        else:
            conn = connect(
                self.driver,
                self.name,
                retry=-1,
                stop_event=self._stopping,
                backoff=reconnect_backoff(self.driver) if lost else None,
            )
        try:
            channel = conn.channel()
            self.conn = conn
            self._consumers = self.declare(conn, channel)
        except Exception:
            self.conn = None
            _close_quietly(conn)
            raise
        metrics.record_broker_connected(True, reconnect=not first)
        self.on_connected()
        self.ready.set()
        if not first:
            LOG.info("%s consuming again", self.name)

    def _consume_until_error_or_stop(self):
        """Drain until stop_consuming(): True; or until the connection is lost: False."""
        conn = self.conn
        errors = connection_errors(conn)
        heartbeat = conn.heartbeat
        next_heartbeat_check = 0.0
        while not self._stopping.is_set():
            if not self._drain_once(conn, errors):
                return False
            # Once per drain timeout is plenty (heartbeats are tens of seconds
            # apart); after every message it cost a few percent of a busy server.
            if heartbeat and time.monotonic() >= next_heartbeat_check:
                next_heartbeat_check = time.monotonic() + DRAIN_TIMEOUT
                try:
                    conn.heartbeat_check(rate=self.driver.heartbeat_rate)
                except errors as exc:
                    self._lost(exc)
                    return False
        return True

    def call_soon(self, fn):
        """Run ``fn()`` in this thread after the current drain (within the drain timeout)."""
        self._soon.append(fn)

    def _drain_once(self, conn, errors):
        try:
            drainer(conn, self._wakeup)(timeout=self.drain_timeout())
        except TimeoutError:
            pass
        except errors as exc:
            self._lost(exc)
            return False
        except tuple(conn.channel_errors) as exc:
            # The broker closed the channel (its queue was deleted, an ack
            # it refused): consuming on it is over; start again on a new one.
            self._lost(exc)
            return False
        except Exception:
            # A bug in a callback must not end consumption for good.
            LOG.exception("%s: error while handling a message", self.name)
        try:
            self.flush()
            while self._soon:
                self._soon.popleft()()
        except errors as exc:
            self._lost(exc)
            return False
        return True

    def _serve_until_exit(self):
        # Consumers are cancelled; acks and requeues of what was received
        # still go out on this connection until stop().
        conn = self.conn
        errors = connection_errors(conn)
        while not self._exiting.is_set():
            if not self._drain_once(conn, errors):
                return
        try:
            self.final_flush()
        except errors as exc:
            LOG.debug("%s: could not settle the last messages: %s", self.name, exc)

    def _lost(self, exc):
        LOG.error(
            "%s lost its connection to %s: %s; reconnecting",
            self.name,
            self.driver.safe_url,
            mask_password(str(exc)) or type(exc).__name__,
        )
        self._consumers = []
        _close_quietly(self.conn)
        self.conn = None
        metrics.record_broker_connected(False)

    def _cancel_consumers(self):
        if self.conn is None:
            return
        errors = connection_errors(self.conn)
        for consumer in self._consumers:
            try:
                # basic.cancel waits for cancel-ok; deliveries that arrive
                # before it are dispatched, so nothing the broker sent us is lost.
                consumer.cancel()
            except errors:
                break
            except Exception:
                LOG.exception("%s: error while cancelling a consumer", self.name)
        self._consumers = []

    def stop_consuming(self, timeout=None):
        """Cancel the consumers; returns once no more messages will be delivered."""
        self._stopping.set()
        self.interrupt()
        if self.is_alive() and threading.current_thread() is not self:
            self._cancelled.wait(timeout)

    def stop(self, timeout=None):
        """Stop consuming and leave the thread, settling what was handed over first."""
        self._stopping.set()
        self._exiting.set()
        self.interrupt()
        if self.is_alive() and threading.current_thread() is not self:
            self._done.wait(timeout)

    @property
    def serving(self):
        """Whether the thread still serves its connection (settlements can go out)."""
        return not self._done.is_set()

    def close(self):
        """Close the connection (after stop())."""
        conn, self.conn = self.conn, None
        if conn is not None:
            _close_quietly(conn)
