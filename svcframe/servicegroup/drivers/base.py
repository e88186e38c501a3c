"""The contract every servicegroup driver implements."""

import abc

__all__ = ["ServiceGroupDriver"]


class ServiceGroupDriver(abc.ABC):
    """Stores service records and heartbeats; one instance per API, shared by threads.

    Drivers are built as ``Driver(conf, service_down_time=N)``: ``conf`` is a
    ConfigOpts with the servicegroup and database options registered, and
    ``service_down_time`` is the effective value (already raised above
    report_interval).  Every method may raise ``RegistryUnavailable`` when the
    backend cannot be reached; admin methods raise ``ServiceNotFound`` for an
    unknown (host, binary).  Instances must survive ``os.fork()``: a child
    process must not reuse the parent's connections.
    """

    def __init__(self, conf, service_down_time):
        self.conf = conf
        self.service_down_time = service_down_time

    @property
    @abc.abstractmethod
    def location(self):
        """Where the records live, for messages, with any password masked."""

    @abc.abstractmethod
    def report(self, host, binary, topic=None, version=None, release=None, rpc_api_version=None):
        """Record one heartbeat, registering the service first if it is unknown.

        ``version``, ``release`` and ``rpc_api_version`` are stored when not None.
        """

    @abc.abstractmethod
    def is_up(self, record):
        """True if the service in ``record`` has reported within service_down_time."""

    def updated_time(self, record):
        """When the service in ``record`` last reported; administrative changes do not move it."""
        return record.updated_at

    @abc.abstractmethod
    def get(self, host, binary):
        """The ServiceRecord of (host, binary), or raise ServiceNotFound."""

    @abc.abstractmethod
    def get_all(self, binary=None, host=None):
        """ServiceRecords sorted by binary then host, optionally filtered."""

    @abc.abstractmethod
    def set_disabled(self, host, binary, disabled, reason=None):
        """Set the administrative status; enabling clears the reason."""

    @abc.abstractmethod
    def set_forced_down(self, host, binary, forced_down):
        """Mark the service down regardless of its heartbeats, or clear that mark."""

    @abc.abstractmethod
    def delete(self, host, binary):
        """Remove the service record."""

    @abc.abstractmethod
    def close(self):
        """Release connections held by this process."""
