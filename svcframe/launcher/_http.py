"""A tiny HTTP/1.0 server driven by a selector the caller already runs.

The master is single-threaded and must stay so (every fork copies it), so
its listener is a non-blocking socket in the master's own selector: each
readiness event does a bounded amount of work and returns.  A request is
read up to its blank line (at most 8 KiB), answered with ``Connection:
close``, and the connection is dropped; a client that stalls longer than
:data:`IDLE_TIMEOUT` is disconnected by :meth:`HTTPServer.expire`, so no
peer can hold the loop.
"""

import errno
import logging
import selectors
import socket
import time

__all__ = ["IDLE_TIMEOUT", "HTTPServer", "Response"]

LOG = logging.getLogger("svcframe.launcher")

IDLE_TIMEOUT = 5.0
_MAX_REQUEST = 8192
_MAX_CONNECTIONS = 32
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
_REASONS.update({500: "Internal Server Error", 503: "Service Unavailable"})


class Response:
    def __init__(self, status, body, content_type="text/plain; charset=utf-8"):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode()
        self.content_type = content_type

    def encode(self, head_only=False):
        reason = _REASONS.get(self.status, "")
        head = (
            f"HTTP/1.0 {self.status} {reason}\r\n"
            f"Content-Type: {self.content_type}\r\n"
            f"Content-Length: {len(self.body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode("latin-1")
        return head if head_only else head + self.body


class _Connection:
    def __init__(self, sock):
        self.sock = sock
        self.inbox = b""
        self.outbox = None
        self.deadline = time.monotonic() + IDLE_TIMEOUT


class HTTPServer:
    """Serves ``routes`` (path -> callable returning a :class:`Response`) on a selector.

    Every key it registers has a callable as ``data``: the owner's loop
    calls ``key.data(key.fileobj, events)`` for them.
    """

    def __init__(self, host, port, routes):
        self._routes = routes
        self._selector = None
        self._connections = {}
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((host, port))
            self._sock.listen(16)
            self._sock.setblocking(False)
        except OSError:
            self._sock.close()
            raise

    @property
    def address(self):
        return self._sock.getsockname()[:2]

    def register(self, selector):
        self._selector = selector
        selector.register(self._sock, selectors.EVENT_READ, self._on_accept)

    def next_deadline(self):
        """When the first open connection expires (monotonic time), None without any."""
        return min((c.deadline for c in self._connections.values()), default=None)

    def expire(self, now=None):
        """Drop connections idle past their deadline."""
        now = time.monotonic() if now is None else now
        for conn in [c for c in self._connections.values() if c.deadline < now]:
            self._drop(conn)

    def close(self):
        """Close the listener and every connection."""
        for conn in list(self._connections.values()):
            self._drop(conn)
        if self._selector is not None:
            self._selector.unregister(self._sock)
        self._sock.close()

    def forget(self):
        """In a forked child: close our copies of the sockets, nothing else.

        The child shares the parent's epoll instance until it closes its
        copy: unregistering here would unregister in the parent too.
        """
        for conn in self._connections.values():
            conn.sock.close()
        self._connections = {}
        self._sock.close()

    def _on_accept(self, sock, events):
        for _ in range(_MAX_CONNECTIONS):
            try:
                client, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ECONNABORTED):
                    return
                raise
            if len(self._connections) >= _MAX_CONNECTIONS:
                client.close()
                continue
            client.setblocking(False)
            conn = _Connection(client)
            self._connections[client.fileno()] = conn
            self._selector.register(client, selectors.EVENT_READ, self._on_client)

    def _on_client(self, sock, events):
        conn = self._connections.get(sock.fileno())
        if conn is None:
            return
        try:
            if conn.outbox is None:
                self._read(conn)
            if conn.outbox is not None:
                self._write(conn)
        except OSError:
            self._drop(conn)

    def _read(self, conn):
        try:
            data = conn.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            self._drop(conn)
            return
        conn.inbox += data
        end = conn.inbox.find(b"\r\n\r\n")
        if end < 0:
            end = conn.inbox.find(b"\n\n")
        if end < 0:
            if len(conn.inbox) > _MAX_REQUEST:
                self._respond(conn, Response(400, "request too large\n"))
            return
        self._respond(conn, *self._route(conn.inbox[:end]))

    def _route(self, head):
        line = head.split(b"\n", 1)[0].decode("latin-1").strip()
        parts = line.split()
        if len(parts) < 2:
            return Response(400, "bad request\n"), False
        method, target = parts[0], parts[1]
        if method not in ("GET", "HEAD"):
            return Response(405, "GET or HEAD only\n"), False
        handler = self._routes.get(target.split("?", 1)[0])
        if handler is None:
            return Response(404, "not found\n"), False
        try:
            response = handler()
        except Exception:
            LOG.exception("Could not answer %s %s", method, target)
            response = Response(500, "internal error\n")
        return response, method == "HEAD"

    def _respond(self, conn, response, head_only=False):
        conn.outbox = memoryview(response.encode(head_only))
        self._selector.modify(conn.sock, selectors.EVENT_WRITE, self._on_client)

    def _write(self, conn):
        try:
            sent = conn.sock.send(conn.outbox)
        except (BlockingIOError, InterruptedError):
            return
        conn.outbox = conn.outbox[sent:]
        if not conn.outbox:
            self._drop(conn)

    def _drop(self, conn):
        self._connections.pop(conn.sock.fileno(), None)
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
