"""The redis servicegroup driver: a heartbeat key per service that expires."""

import contextlib
import datetime

import redis
import redis.exceptions

from svcframe.servicegroup._exceptions import (
    RegistryUnavailable,
    ServiceGroupError,
    ServiceNotFound,
)
from svcframe.servicegroup._record import ServiceRecord, utcnow
from svcframe.servicegroup._urls import mask_url, scrub
from svcframe.servicegroup.drivers.base import ServiceGroupDriver

__all__ = ["RedisDriver"]

# Admin changes must not resurrect a deleted service as a half-empty hash,
# so "exists, then update" runs as one server-side step.
_UPDATE_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then
    return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

_DATETIME_FIELDS = ("last_seen_up", "created_at", "updated_at")


class RedisDriver(ServiceGroupDriver):
    """Service records in Redis ([servicegroup_redis] url).

    Per service ``<prefix>:service:<binary>@<host>`` is a hash with the
    record, and ``<prefix>:alive:<binary>@<host>`` a key each heartbeat
    renews with a TTL of service_down_time: the service is up while that key
    exists and it is not forced down.  ``<prefix>:services`` is the set of
    every registered ``<binary>@<host>``, for listing.  Hostnames cannot
    contain '@', which keeps those names unambiguous.
    """

    def __init__(self, conf, service_down_time):
        super().__init__(conf, service_down_time)
        options = conf.servicegroup_redis
        self._url = options.url
        self._location = mask_url(self._url)
        self._prefix = options.key_prefix
        try:
            # redis-py's pool notices a fork and reconnects in the child.
            self._client = redis.Redis.from_url(
                self._url,
                socket_connect_timeout=options.socket_timeout,
                socket_timeout=options.socket_timeout,
                decode_responses=True,
            )
        except ValueError as exc:
            raise ServiceGroupError(
                f"invalid [servicegroup_redis] url {self._location}: {scrub(exc, self._url)}"
            ) from exc
        self._update_if_exists = self._client.register_script(_UPDATE_IF_EXISTS)

    @property
    def location(self):
        return self._location

    def report(self, host, binary, topic=None, version=None, release=None, rpc_api_version=None):
        member = _member(host, binary)
        record_key = self._record_key(member)
        now = _encode_time(utcnow())
        fields = {"host": host, "binary": binary, "last_seen_up": now, "updated_at": now}
        if topic is not None:
            fields["topic"] = topic
        if version is not None:
            fields["version"] = str(version)
        if release is not None:
            fields["release"] = release
        if rpc_api_version is not None:
            fields["rpc_api_version"] = rpc_api_version
        with self._errors_translated():
            pipe = self._client.pipeline(transaction=True)
            pipe.hsetnx(record_key, "created_at", now)
            pipe.hsetnx(record_key, "disabled", "0")
            pipe.hsetnx(record_key, "forced_down", "0")
            pipe.hset(record_key, mapping=fields)
            pipe.hincrby(record_key, "report_count", 1)
            pipe.set(self._alive_key(member), now, ex=self.service_down_time)
            pipe.sadd(self._index_key(), member)
            pipe.execute()

    def is_up(self, record):
        if record.forced_down:
            return False
        with self._errors_translated():
            return bool(self._client.exists(self._alive_key(_member(record.host, record.binary))))

    def get(self, host, binary):
        with self._errors_translated():
            fields = self._client.hgetall(self._record_key(_member(host, binary)))
        if not fields:
            raise ServiceNotFound(host, binary)
        return _to_record(fields)

    def get_all(self, binary=None, host=None):
        with self._errors_translated():
            members = self._client.smembers(self._index_key())
            pipe = self._client.pipeline(transaction=False)
            for member in members:
                pipe.hgetall(self._record_key(member))
            hashes = pipe.execute()
        records = [_to_record(fields) for fields in hashes if fields]
        records = [
            r
            for r in records
            if (binary is None or r.binary == binary) and (host is None or r.host == host)
        ]
        return sorted(records, key=lambda r: (r.binary, r.host))

    def set_disabled(self, host, binary, disabled, reason=None):
        self._update(
            host,
            binary,
            disabled="1" if disabled else "0",
            disabled_reason=(reason or "") if disabled else "",
        )

    def set_forced_down(self, host, binary, forced_down):
        self._update(host, binary, forced_down="1" if forced_down else "0")

    def delete(self, host, binary):
        member = _member(host, binary)
        with self._errors_translated():
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(self._record_key(member))
            pipe.delete(self._alive_key(member))
            pipe.srem(self._index_key(), member)
            deleted, _, _ = pipe.execute()
        if not deleted:
            raise ServiceNotFound(host, binary)

    def close(self):
        self._client.close()

    def _update(self, host, binary, **fields):
        # updated_at is the heartbeat's: an administrative change leaves it alone.
        args = [item for pair in fields.items() for item in pair]
        with self._errors_translated():
            found = self._update_if_exists(
                keys=[self._record_key(_member(host, binary))], args=args
            )
        if not found:
            raise ServiceNotFound(host, binary)

    def _record_key(self, member):
        return f"{self._prefix}:service:{member}"

    def _alive_key(self, member):
        return f"{self._prefix}:alive:{member}"

    def _index_key(self):
        return f"{self._prefix}:services"

    @contextlib.contextmanager
    def _errors_translated(self):
        try:
            yield
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise RegistryUnavailable(self._location, self._reason(exc)) from exc
        except redis.exceptions.RedisError as exc:
            raise ServiceGroupError(
                f"service registry {self._location} refused a command: {self._reason(exc)}"
            ) from exc

    def _reason(self, exc):
        lines = str(exc).strip().splitlines()
        return scrub(lines[0] if lines else type(exc).__name__, self._url)


def _member(host, binary):
    return f"{binary}@{host}"


def _encode_time(value):
    return value.isoformat()


def _decode_time(value):
    if not value:
        return None
    return datetime.datetime.fromisoformat(value)


def _to_record(fields):
    version = fields.get("version")
    return ServiceRecord(
        host=fields["host"],
        binary=fields["binary"],
        topic=fields.get("topic") or None,
        report_count=int(fields.get("report_count", 0)),
        disabled=fields.get("disabled") == "1",
        disabled_reason=fields.get("disabled_reason") or None,
        forced_down=fields.get("forced_down") == "1",
        version=int(version) if version else None,
        release=fields.get("release") or None,
        rpc_api_version=fields.get("rpc_api_version") or None,
        **{name: _decode_time(fields.get(name)) for name in _DATETIME_FIELDS},
    )
