"""Connecting to a kombu transport, and a consumer thread that survives broker loss.

``ConsumerThread`` is the one place that knows how to keep consuming
across reconnects (kombu's ConsumerMixin, reduced to what RPC needs):
subclasses say which consumers to declare and what to do with a message;
the loop connects, declares, drains, checks heartbeats, and on a
connection error logs once, backs off and starts over.
"""

import logging
import random
import socket
import threading
import time

import amqp.exceptions

from svcframe import metrics
from svcframe.messaging import exceptions
from svcframe.messaging.transport import mask_password

__all__ = ["Backoff", "connect", "ConsumerThread", "connection_errors"]

LOG = logging.getLogger(__name__)

# How long one drain may block: bounds how fast stop() and heartbeats react.
DRAIN_TIMEOUT = 0.2
FIRST_CONNECT_RETRIES = 1


def connection_errors(conn):
    """The exceptions that mean 'the connection is gone, reconnect'."""
    return (
        tuple(conn.connection_errors)
        + tuple(conn.recoverable_connection_errors)
        + (OSError, socket.timeout, EOFError, amqp.exceptions.ConnectionError)
    )


class Backoff:
    """rabbit_retry_interval, growing by rabbit_retry_backoff, capped at rabbit_interval_max."""

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


def connect(driver, what, retry=None, deadline=None, stop_event=None):
    """A connected kombu Connection, retrying with backoff.

    ``retry`` None or -1 retries forever, 0 tries once, N retries N times;
    ``deadline`` (monotonic) and ``stop_event`` end the attempts early.
    Bad credentials are not retried: they do not fix themselves.
    """
    backoff = driver.new_backoff()
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
                f"{mask_password(str(exc))}. Check the user and password in transport_url."
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


def _close_quietly(conn):
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail in many ways
        pass


class ConsumerThread(threading.Thread):
    """A daemon thread that consumes until stopped, reconnecting as needed.

    Subclasses implement ``declare(conn, channel)`` returning the started
    kombu consumers, and may override ``on_connected()``.  ``stop()`` cancels
    the consumers from within the thread (a kombu connection belongs to one
    thread), processing whatever the broker delivered before the cancel.
    """

    def __init__(self, driver, name):
        super().__init__(name=name, daemon=True)
        self.driver = driver
        self.conn = None
        self.ready = threading.Event()
        self.failed = None
        self._consumers = []
        self._stopping = threading.Event()
        self._done = threading.Event()

    def declare(self, conn, channel):
        raise NotImplementedError

    def on_connected(self):
        """Called in the thread after every (re)connection and declare."""

    def run(self):
        backoff = self.driver.new_backoff()
        first = True
        try:
            while not self._stopping.is_set():
                try:
                    self._connect_and_declare(first)
                except exceptions.TransportUnavailable as exc:
                    if self._stopping.is_set():
                        break
                    if first:
                        # Whoever waits for our start gets the reason.
                        self.failed = exc
                        self.ready.set()
                        LOG.error("%s: %s", self.name, exc)
                        return
                    # Refused after having served (e.g. the password was
                    # changed on the broker): keep trying, loudly.
                    LOG.error("%s: %s", self.name, exc)
                    if self._stopping.wait(backoff.next()):
                        break
                    continue
                except Exception as exc:
                    # The broker refused a declare (406 PRECONDITION_FAILED:
                    # the queue or exchange exists with other flags). At
                    # start, that will not fix itself: fail start() with it.
                    if first:
                        self.failed = exc
                        self.ready.set()
                        LOG.error("%s: %s", self.name, mask_password(str(exc)))
                        return
                    LOG.exception("%s: could not declare after reconnecting", self.name)
                    if self._stopping.wait(backoff.next()):
                        break
                    continue
                first = False
                backoff.reset()
                self._consume_until_error_or_stop(backoff)
            self._cancel_consumers()
        finally:
            self._done.set()

    def _connect_and_declare(self, first):
        # At start-up an unreachable broker is an error for whoever starts us
        # (a worker that cannot boot should say so, not hang); once we have
        # served, a lost broker is waited for as long as it takes.
        retry = FIRST_CONNECT_RETRIES if first else -1
        conn = connect(self.driver, self.name, retry=retry, stop_event=self._stopping)
        try:
            channel = conn.channel()
            self._consumers = self.declare(conn, channel)
        except Exception:
            _close_quietly(conn)
            raise
        self.conn = conn
        metrics.record_broker_connected(True, reconnect=not first)
        self.on_connected()
        self.ready.set()
        if not first:
            LOG.info("%s consuming again", self.name)

    def _consume_until_error_or_stop(self, backoff):
        conn = self.conn
        errors = connection_errors(conn)
        heartbeat = conn.heartbeat
        next_heartbeat_check = 0.0
        while not self._stopping.is_set():
            try:
                conn.drain_events(timeout=DRAIN_TIMEOUT)
            except TimeoutError:
                pass
            except errors as exc:
                self._lost(exc, backoff)
                return
            except Exception:
                # A bug in a callback must not end consumption for good.
                LOG.exception("%s: error while handling a message", self.name)
            # Once per drain timeout is plenty (heartbeats are tens of seconds
            # apart); after every message it cost a few percent of a busy server.
            if heartbeat and time.monotonic() >= next_heartbeat_check:
                next_heartbeat_check = time.monotonic() + DRAIN_TIMEOUT
                try:
                    conn.heartbeat_check(rate=self.driver.heartbeat_rate)
                except errors as exc:
                    self._lost(exc, backoff)
                    return

    def _lost(self, exc, backoff):
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
        if self._stopping.wait(backoff.next()):
            return

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

    def stop(self, timeout=None):
        """Stop consuming; returns once the thread has cancelled its consumers."""
        self._stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self._done.wait(timeout)

    def close(self):
        """Close the connection (after stop())."""
        conn, self.conn = self.conn, None
        if conn is not None:
            _close_quietly(conn)
