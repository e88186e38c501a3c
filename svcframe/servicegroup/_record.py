"""The service record callers see, whatever driver stored it."""

import dataclasses
import datetime

__all__ = ["ServiceRecord", "utcnow"]


def utcnow():
    """The current time as a timezone-aware UTC datetime."""
    return datetime.datetime.now(datetime.UTC)


@dataclasses.dataclass(frozen=True)
class ServiceRecord:
    """One service (a binary on a host) as the registry last saw it.

    Every datetime is timezone-aware UTC.  ``last_seen_up`` is None until the
    service's first heartbeat.
    """

    host: str
    binary: str
    topic: str | None = None
    report_count: int = 0
    disabled: bool = False
    disabled_reason: str | None = None
    forced_down: bool = False
    last_seen_up: datetime.datetime | None = None
    version: int | None = None
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
    #: The component's release (Manager.release) and the RPC API version it serves.
    release: str | None = None
    rpc_api_version: str | None = None

    @property
    def status(self):
        """'enabled' or 'disabled', the administrative status."""
        return "disabled" if self.disabled else "enabled"
