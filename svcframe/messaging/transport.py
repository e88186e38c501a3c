"""Transport URLs, the Transport that holds a driver, and get_rpc_transport()."""

import importlib.metadata
import logging
import sys
from urllib import parse

from stevedore import driver as stevedore_driver

from svcframe import masking
from svcframe.messaging import _utils, exceptions

__all__ = [
    "DriverLoadFailure",
    "InvalidTransportURL",
    "Transport",
    "RPCTransport",
    "NotificationTransport",
    "TransportHost",
    "TransportOptions",
    "TransportURL",
    "get_rpc_transport",
    "get_transport",
    "set_transport_defaults",
]

LOG = logging.getLogger(__name__)

# oslo_messaging.transport's names for these.
DriverLoadFailure = exceptions.DriverLoadFailure
InvalidTransportURL = exceptions.InvalidTransportURL

DRIVER_NAMESPACE = "svcframe.drivers"
EMBEDDED_SCHEME = "embedded"
RABBIT_GROUP = "oslo_messaging_rabbit"


class TransportHost:
    """One broker address of a transport URL, with its optional credentials."""

    __slots__ = ("hostname", "port", "username", "password")

    def __init__(self, hostname=None, port=None, username=None, password=None):
        self.hostname = hostname
        self.port = port
        self.username = username
        self.password = password

    def _key(self):
        return (self.hostname, self.port, self.username, self.password)

    def __eq__(self, other):
        return isinstance(other, TransportHost) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        attrs = [f"hostname={self.hostname!r}", f"port={self.port!r}"]
        if self.username is not None:
            attrs.append(f"username={self.username!r}")
        if self.password is not None:
            attrs.append(f"password={masking.MASK!r}")
        return f"<TransportHost {', '.join(attrs)}>"


def _split_host_port(text, url):
    """(hostname, port) of 'host', 'host:port', '[v6]' or '[v6]:port'."""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise exceptions.InvalidTransportURL(url, f"Unclosed '[' in host {text!r} of {url}")
        hostname, rest = text[1:close], text[close + 1 :]
        if rest and not rest.startswith(":"):
            raise exceptions.InvalidTransportURL(
                url, f"Unexpected {rest!r} after the address of host {text!r} in {url}"
            )
        port = rest[1:] or None
    elif text.count(":") == 1:
        hostname, port = text.split(":")
        port = port or None
    else:
        # No colon, or a bare IPv6 address: no port can be told apart.
        hostname, port = text, None
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise exceptions.InvalidTransportURL(
                url, f"Invalid port {port!r} for host {hostname!r} in {url}"
            )
        port = int(port)
    return hostname, port


class _OptionsView:
    """A config group's values with the transport URL's query string laid over them."""

    def __init__(self, conf, group, overrides):
        self._group = conf[group]
        self._overrides = overrides

    def __getattr__(self, name):
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._group, name)

    __getitem__ = __getattr__


class TransportURL:
    """A parsed transport URL, as oslo.messaging's.

    ``driver://[user:pass@]host:port[,[userN:passN@]hostN:portN]/virtual_host?query``.
    ``str()`` gives the URL back with every password masked; drivers read
    the credentials from ``hosts``.
    """

    def __init__(self, conf, transport=None, virtual_host=None, hosts=None, query=None):
        self.conf = conf
        self.transport = transport
        self.virtual_host = virtual_host
        self.hosts = list(hosts or [])
        self.query = dict(query or {})

    @classmethod
    def parse(cls, conf, url=None):
        """Parse ``url`` (default: ``conf.transport_url``) into a TransportURL.

        Credentials and the virtual host are URL-unquoted. The virtual host
        is the path after the first '/': no path gives None, '/' gives '',
        '//' gives '/', '/nova' gives 'nova'. A query key given several
        times keeps all its values, comma-joined.
        """
        if url is None:
            url = conf.transport_url
        if not isinstance(url, str):
            raise exceptions.InvalidTransportURL(
                url, f"A transport URL must be a string, not {type(url).__name__}"
            )
        masked = masking.mask_url(url)
        try:
            parts = parse.urlsplit(url)
        except ValueError as exc:
            raise exceptions.InvalidTransportURL(masked, f"Cannot parse {masked}: {exc}")
        if not parts.scheme:
            raise exceptions.InvalidTransportURL(masked, f"No scheme specified in {masked!r}")

        query = {}
        for key, values in parse.parse_qs(parts.query).items():
            query[key] = ",".join(values)

        virtual_host = None
        if parts.path.startswith("/"):
            virtual_host = parse.unquote(parts.path[1:])

        hosts = []
        with_creds, without_creds = [], []
        for netloc in parts.netloc.split(","):
            if not netloc:
                continue
            username = password = None
            if "@" in netloc:
                creds, netloc = netloc.rsplit("@", 1)
                if ":" in creds:
                    creds, password = creds.split(":", 1)
                    password = parse.unquote(password)
                username = parse.unquote(creds)
            hostname, port = _split_host_port(netloc, masked)
            if username is None or password is None:
                without_creds.append(hostname)
            else:
                with_creds.append(hostname)
            hosts.append(TransportHost(hostname, port, username, password))
        if with_creds and without_creds:
            LOG.warning(
                "All hosts must be set with username/password or not at the same "
                "time. Hosts with credentials are: %s. Hosts without credentials are %s.",
                with_creds,
                without_creds,
            )
        return cls(conf, parts.scheme, virtual_host, hosts, query)

    def option(self, conf, name, group=RABBIT_GROUP):
        """Option ``name`` of ``group``: the URL query value if present, else the config's.

        A query value is converted to the option's type; a value that does
        not convert raises InvalidTransportURL.
        """
        if name not in self.query:
            return getattr(conf[group], name)
        return self._convert(conf, group, name)

    def rabbit_options(self, conf):
        """``conf.oslo_messaging_rabbit`` with the URL query's overrides applied.

        Every query key must name an option of that group and convert to its
        type; otherwise InvalidTransportURL, raised here rather than at the
        first use of the option.
        """
        overrides = {name: self._convert(conf, RABBIT_GROUP, name) for name in self.query}
        return _OptionsView(conf, RABBIT_GROUP, overrides)

    def _convert(self, conf, group, name):
        try:
            # oslo.config has no public lookup of an option's type; this is
            # the call oslo.messaging's ConfigOptsProxy makes too.
            opt = conf._get_opt_info(name, group)["opt"]
        except Exception:
            raise exceptions.InvalidTransportURL(
                str(self),
                f"Unknown option {name!r} in the query of {self}: [{group}] has no such option",
            )
        try:
            return opt.type(self.query[name])
        except (TypeError, ValueError) as exc:
            raise exceptions.InvalidTransportURL(
                str(self), f"Invalid value for option {name!r} in the query of {self}: {exc}"
            )

    def _key(self):
        return (self.transport, self.virtual_host, tuple(self.hosts))

    def __eq__(self, other):
        return isinstance(other, TransportURL) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        attrs = [f"{a}={getattr(self, a)!r}" for a in ("transport", "virtual_host", "hosts")]
        return f"<TransportURL {', '.join(attrs)}>"

    def __str__(self):
        netlocs = []
        for host in self.hosts:
            netloc = ""
            if host.username is not None or host.password is not None:
                if host.username is not None:
                    netloc += parse.quote(host.username, "")
                if host.password is not None:
                    netloc += ":" + masking.MASK
                netloc += "@"
            if host.hostname:
                netloc += f"[{host.hostname}]" if ":" in host.hostname else host.hostname
            if host.port is not None:
                netloc += f":{host.port}"
            netlocs.append(netloc)
        url = f"{self.transport}://{','.join(netlocs)}/"
        if self.virtual_host:
            url += parse.quote(self.virtual_host)
        if self.query:
            url += "?" + parse.urlencode(self.query, doseq=True)
        return url


class TransportOptions:
    """Per-client delivery options, as oslo.messaging's.

    ``at_least_once``: requests are published mandatory and a call or cast
    no queue takes raises MessageUndeliverable at once (a cast waits for
    the broker's confirm).
    """

    def __init__(self, at_least_once=False):
        self._at_least_once = at_least_once

    @property
    def at_least_once(self):
        return self._at_least_once

    def __repr__(self):
        return f"<TransportOptions at_least_once={self._at_least_once}>"


class Transport:
    """A messaging transport: the driver for one URL, shared by clients and servers."""

    def __init__(self, driver):
        self._driver = driver
        self.conf = driver.conf

    def _send(
        self,
        target,
        ctxt,
        message,
        wait_for_reply=None,
        timeout=None,
        call_monitor_timeout=None,
        retry=None,
        transport_options=None,
    ):
        if not target.topic:
            raise exceptions.InvalidTarget("A topic is required to send", target)
        kwargs = {}
        if transport_options is not None:
            # Only then: third-party drivers written before the argument keep working.
            kwargs["transport_options"] = transport_options
        return self._driver.send(
            target,
            ctxt,
            message,
            wait_for_reply=bool(wait_for_reply),
            timeout=timeout,
            call_monitor_timeout=call_monitor_timeout,
            retry=retry,
            **kwargs,
        )

    def _send_notification(self, target, ctxt, message, version, retry=None):
        if not target.topic:
            raise exceptions.InvalidTarget("A topic is required to send", target)
        self._driver.send_notification(target, ctxt, message, version, retry=retry)

    def _listen_for_notifications(self, targets_and_priorities, pool=None, exclusive=False):
        for target, _priority in targets_and_priorities:
            if not target.topic:
                raise exceptions.InvalidTarget("A notification target needs a topic", target)
        kwargs = {"exclusive": True} if exclusive else {}
        return self._driver.listen_for_notifications(targets_and_priorities, pool, **kwargs)

    def _listen(self, target):
        if not (target.topic and target.server):
            raise exceptions.InvalidTarget(
                "A server's target must have topic and server names", target
            )
        return self._driver.listen(target)

    @property
    def url(self):
        """Where this transport goes, password masked: for logs and error messages."""
        return getattr(self._driver, "safe_url", None) or str(self._driver.url)

    def cleanup(self):
        """Release every connection of the driver."""
        self._driver.cleanup()

    def __repr__(self):
        return f"<Transport {self._driver.url}>"


class RPCTransport(Transport):
    """A transport for RPC clients and servers (oslo.messaging's name)."""


class NotificationTransport(Transport):
    """A transport for notifiers and notification listeners (oslo.messaging's name)."""


def set_transport_defaults(control_exchange):
    """Set the default of ``[DEFAULT] control_exchange`` (nova sets ``nova``).

    oslo.messaging's definition of the option is changed too when it is
    loaded: both libraries register the option on one ConfigOpts, and
    oslo.config refuses two definitions that differ in their default.
    """
    from oslo_config import cfg

    from svcframe.conf import messaging as messaging_conf

    cfg.set_defaults(messaging_conf.messaging_opts, control_exchange=control_exchange)
    oslo_transport = sys.modules.get("oslo_messaging.transport")
    if oslo_transport is not None:
        cfg.set_defaults(oslo_transport._transport_opts, control_exchange=control_exchange)


def _configured_url(conf):
    """``[DEFAULT] transport_url``, or None when it is set nowhere: the embedded transport.

    The option keeps oslo.messaging's definition (default ``rabbit://``) so
    that both libraries can register it; a value that only comes from that
    default still means svcframe's broker-less default.
    """
    from oslo_config import cfg

    location = conf.get_location("transport_url")
    if location is not None and location.location is cfg.Locations.opt_default:
        return None
    return conf.transport_url


def _available_schemes():
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=DRIVER_NAMESPACE)})


def get_rpc_transport(conf, url=None, allowed_remote_exmods=None, transport_cls=RPCTransport):
    """A Transport for ``url`` (default ``[DEFAULT] transport_url``; unset: embedded).

    Registers the messaging options on ``conf``. ``allowed_remote_exmods``
    lists the modules whose exceptions a caller re-raises as themselves
    (builtins always are); any other remote exception becomes RemoteError.
    """
    return _get_transport(conf, url, allowed_remote_exmods, transport_cls)


def get_transport(conf, url=None, allowed_remote_exmods=None, transport_cls=RPCTransport):
    """oslo.messaging's older name of get_rpc_transport (it still works there, deprecated)."""
    return _get_transport(conf, url, allowed_remote_exmods, transport_cls)


def _get_transport(conf, url, allowed_remote_exmods, transport_cls):
    # Imported here so that importing svcframe.messaging stays light.
    from svcframe.conf import register_messaging_opts

    register_messaging_opts(conf)
    if url is None:
        url = _configured_url(conf)
    if isinstance(url, TransportURL):
        parsed = url
    elif not url:
        parsed = TransportURL(conf, EMBEDDED_SCHEME)
    else:
        parsed = TransportURL.parse(conf, url)
    scheme = parsed.transport
    try:
        manager = stevedore_driver.DriverManager(
            DRIVER_NAMESPACE,
            scheme,
            invoke_on_load=True,
            invoke_args=(conf, parsed),
            invoke_kwds={
                "default_exchange": conf.control_exchange,
                "allowed_remote_exmods": allowed_remote_exmods,
            },
            on_load_failure_callback=_utils.raise_load_failure,
        )
    except exceptions.MessagingException:
        raise
    except Exception as exc:
        if scheme not in _available_schemes():
            msg = (
                f"No transport driver for scheme {scheme!r} (URL {parsed}); "
                f"available: {', '.join(_available_schemes()) or 'none'}"
            )
        else:
            msg = f"Cannot load the {scheme!r} transport driver for {parsed}: {exc}"
        raise exceptions.DriverLoadFailure(masking.mask_password(msg)) from None
    return transport_cls(manager.driver)
