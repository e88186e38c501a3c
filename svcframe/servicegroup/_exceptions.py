"""Errors raised by the servicegroup API and its drivers."""

__all__ = [
    "RegistryUnavailable",
    "SchemaNotCurrent",
    "ServiceGroupError",
    "ServiceNotFound",
]


class ServiceGroupError(Exception):
    """Root of every servicegroup error."""


class ServiceNotFound(ServiceGroupError, LookupError):
    """No service is registered under this host and binary."""

    def __init__(self, host, binary):
        self.host = host
        self.binary = binary
        super().__init__(f"no service {binary!r} on host {host!r}")


class RegistryUnavailable(ServiceGroupError):
    """The registry (database or Redis) cannot be reached; retrying may succeed."""

    def __init__(self, location, reason):
        self.location = location
        self.reason = reason
        super().__init__(f"service registry {location} is unavailable: {reason}")


class SchemaNotCurrent(ServiceGroupError):
    """The registry database has no schema, or an older one than this code needs."""

    def __init__(self, location, found, expected):
        self.location = location
        self.found = found
        self.expected = expected
        state = "has no schema" if not found else f"has schema version {found}"
        super().__init__(
            f"service registry {location} {state}, this code needs version {expected}; "
            "run 'svc-manage db sync'"
        )
