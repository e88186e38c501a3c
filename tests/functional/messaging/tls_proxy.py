"""A TLS-terminating proxy in front of the plain RabbitMQ listener, and certificates for it.

The shared broker has no TLS listener and is not reconfigured by tests:
the proxy accepts TLS on a free loopback port and relays the decrypted
bytes to the broker's AMQP port.  Certificates are made at test time with
the ``openssl`` command.
"""

import os
import selectors
import socket
import ssl
import subprocess
import threading

__all__ = [
    "Certificates",
    "TLSProxy",
    "make_ca",
    "make_client_certificate",
    "make_self_signed_certificate",
    "make_server_certificate",
]


class Certificates:
    def __init__(self, ca, server_cert=None, server_key=None):
        self.ca = ca
        self.server_cert = server_cert
        self.server_key = server_key


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory, name):
    """A self-signed CA: (certificate path, key path)."""
    cert, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key")
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", key, "-out", cert,
        cwd=directory,
    )  # fmt: skip
    return cert, key


def make_self_signed_certificate(directory, name, subject_alt_names):
    """A self-signed server certificate (cert, key), as an impostor would present."""
    cert, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key")
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2", "-subj", f"/CN={name}",
        "-addext", f"subjectAltName={subject_alt_names}",
        "-addext", "extendedKeyUsage=serverAuth",
        "-keyout", key, "-out", cert,
        cwd=directory,
    )  # fmt: skip
    return cert, key


def make_server_certificate(directory, name, ca, subject_alt_names):
    """A server certificate signed by ``ca`` (cert, key) for ``subject_alt_names``."""
    return _make_certificate(
        directory, name, ca, f"subjectAltName={subject_alt_names}\nextendedKeyUsage=serverAuth\n"
    )


def make_client_certificate(directory, name, ca):
    """A client certificate signed by ``ca``: (cert, key); its subject is ``CN=<name>``."""
    return _make_certificate(directory, name, ca, "extendedKeyUsage=clientAuth\n")


def _make_certificate(directory, name, ca, extensions):
    ca_cert, ca_key = ca
    cert, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key")
    csr, ext = os.path.join(directory, f"{name}.csr"), os.path.join(directory, f"{name}.ext")
    with open(ext, "w") as f:
        f.write(extensions)
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", f"/CN={name}", "-keyout", key, "-out", csr,
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
        "-days", "2", "-extfile", ext, "-out", cert,
        cwd=directory,
    )  # fmt: skip
    return cert, key


class TLSProxy:
    """Accepts TLS on 127.0.0.1:<port> and relays each connection to (upstream_host, port).

    With ``client_ca`` the proxy requires a client certificate signed by it,
    as a broker with ``fail_if_no_peer_cert`` does, and records the common
    name of each client it accepted in ``client_names``.  ``versions`` holds
    the protocol versions the handshakes negotiated.
    """

    def __init__(self, cert, key, upstream, client_ca=None):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        if client_ca is not None:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(client_ca)
        self.upstream = upstream
        self.handshakes = 0
        self.failed_handshakes = 0
        self.client_names = []
        self.versions = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name="tls-proxy", daemon=True).start()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _track(self, sock):
        with self._lock:
            if self._closed:
                sock.close()
                raise OSError("proxy closed")
            self._sockets.add(sock)

    def _serve(self, client):
        try:
            self._track(client)
            client.settimeout(10)
            try:
                tls = self.context.wrap_socket(client, server_side=True)
            except (ssl.SSLError, OSError):
                with self._lock:
                    self.failed_handshakes += 1
                return
            with self._lock:
                self.handshakes += 1
                self.versions.add(tls.version())
                peer = tls.getpeercert()
                if peer:
                    subject = dict(item for rdn in peer["subject"] for item in rdn)
                    self.client_names.append(subject.get("commonName"))
            self._track(tls)
            upstream = socket.create_connection(self.upstream, timeout=10)
            self._track(upstream)
            tls.settimeout(None)
            upstream.settimeout(None)
            self._relay(tls, upstream)
        except OSError:
            pass
        finally:
            with self._lock:
                for sock in [s for s in self._sockets if s.fileno() < 0]:
                    self._sockets.discard(sock)

    def _relay(self, tls, upstream):
        peers = {tls: upstream, upstream: tls}
        with selectors.DefaultSelector() as selector:
            selector.register(tls, selectors.EVENT_READ)
            selector.register(upstream, selectors.EVENT_READ)
            try:
                while not self._closed:
                    # Decrypted bytes may wait in the TLS object with nothing left on the socket.
                    ready = [tls] if tls.pending() else [k.fileobj for k, _ in selector.select(1)]
                    for sock in ready:
                        data = sock.recv(65536)
                        if not data:
                            return
                        peers[sock].sendall(data)
            finally:
                for sock in (tls, upstream):
                    sock.close()

    def close(self):
        with self._lock:
            self._closed = True
            sockets, self._sockets = list(self._sockets), set()
        self._listener.close()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
