"""TLS to RabbitMQ: the ``ssl`` options given to kombu and py-amqp, verifying unless told not to.

py-amqp builds the client context from these options, and left to its
defaults it is easy to end up unverified: a pinned protocol version
(``ssl.SSLContext(PROTOCOL_TLSv1_2)``) verifies nothing, and kombu checks
the host name against 127.0.0.1 when the URL says ``localhost``.  So the
context is always a ``PROTOCOL_TLS_CLIENT`` one with ``CERT_REQUIRED``
(the system CA store unless ``ssl_ca_file`` is given), ``ssl_version``
only pins the minimum and maximum protocol version, and each broker host
is checked against its own name as written in the transport URL.
"""

import logging
import os
import ssl

import kombu

__all__ = ["BrokerConnection", "ssl_options"]

LOG = logging.getLogger(__name__)

# ssl_version (oslo.messaging's names, any case) -> the one protocol version
# allowed; None negotiates the highest version both sides support.
_TLS_VERSIONS = {
    "tlsv1": ssl.TLSVersion.TLSv1,
    "tlsv1_1": ssl.TLSVersion.TLSv1_1,
    "tlsv1_2": ssl.TLSVersion.TLSv1_2,
    "tlsv1_3": ssl.TLSVersion.TLSv1_3,
    "sslv23": None,
    "tls": None,
}

_FILES = (("ssl_cert_file", "certfile"), ("ssl_key_file", "keyfile"), ("ssl_ca_file", "ca_certs"))


def ssl_options(opts, safe_url):
    """kombu's ``ssl`` argument for the rabbit options ``opts``: False, or a dict.

    Checked once, when the transport is made: an unknown ``ssl_version`` or
    a file that cannot be read raises ValueError naming the option, rather
    than failing every connection attempt.  Logs a warning when the
    options turn verification off.
    """
    if not opts.ssl:
        return False
    options = {}
    if opts.ssl_version:
        key = opts.ssl_version.lower()
        if key not in _TLS_VERSIONS:
            valid = ", ".join(sorted(_TLS_VERSIONS))
            raise ValueError(f"Invalid SSL version: {opts.ssl_version} (valid: {valid})")
        if _TLS_VERSIONS[key] is not None:
            options["tls_minimum_version"] = options["tls_maximum_version"] = _TLS_VERSIONS[key]
    for name, key in _FILES:
        path = getattr(opts, name)
        if path:
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise ValueError(f"[oslo_messaging_rabbit] {name} = {path} is not a readable file")
            options[key] = path
    if "keyfile" in options and "certfile" not in options:
        raise ValueError("[oslo_messaging_rabbit] ssl_key_file is set without ssl_cert_file")

    if opts.ssl_insecure_skip_verify:
        _warn_once(
            "TLS to %s does not verify the broker's certificate "
            "(ssl_insecure_skip_verify = true): anyone on the network path can pose "
            "as the broker and read the credentials and every message",
            safe_url,
        )
        options["cert_reqs"] = ssl.CERT_NONE
        return options
    options["cert_reqs"] = ssl.CERT_REQUIRED
    if opts.ssl_enforce_hostname_verification:
        # BrokerConnection fills in each broker's own name.
        options["server_hostname"] = None
    else:
        _warn_once(
            "TLS to %s does not check the broker's host name "
            "(ssl_enforce_hostname_verification = false): any certificate the CA "
            "signed, for any host, is accepted",
            safe_url,
        )
    return options


class BrokerConnection(kombu.Connection):
    """A kombu Connection that checks each broker's certificate against that broker's name.

    kombu replaces a None ``server_hostname`` with the host it connects to,
    but only after rewriting ``localhost`` to 127.0.0.1, and writes it into
    the one dict shared by every failover host, so that the next host would
    be checked against the previous one's name.  Here each host, the first
    and every one kombu switches to, gets its own copy of the options
    naming it as written in the URL.
    """

    def _init_params(self, **params):
        options = params.get("ssl")
        if isinstance(options, dict):
            options = dict(options)
            if "server_hostname" in options:
                options["server_hostname"] = params.get("hostname")
            params["ssl"] = options
        super()._init_params(**params)


# One line per URL and process: a service makes several transports (RPC,
# notifications) to the same broker, and the operator needs to hear it once.
_warned = set()


def _warn_once(message, safe_url):
    if (message, safe_url) not in _warned:
        _warned.add((message, safe_url))
        LOG.warning(message, safe_url)
