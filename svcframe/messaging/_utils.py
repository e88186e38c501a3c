"""What several messaging modules share: version arithmetic and plugin loading.

The client (version caps) and the dispatcher compare versions; the
transport (drivers) and the server (executors) load plugins.
"""

import functools

__all__ = ["parse_version", "raise_load_failure", "version_is_compatible"]


@functools.lru_cache(maxsize=256)
def parse_version(version):
    """(major, minor, revision) of a 'major.minor[.revision]' string.

    Raises ValueError for anything else, including non-strings.
    """
    if not isinstance(version, str):
        raise ValueError(f"a version must be a string, not {type(version).__name__}")
    parts = version.split(".")
    if len(parts) < 2:
        raise ValueError(f"version {version!r} has no minor part (expected 'major.minor')")
    try:
        major, minor = int(parts[0]), int(parts[1])
        revision = int(parts[2]) if len(parts) > 2 else 0
    except ValueError:
        raise ValueError(f"version {version!r} is not made of integers (expected 'major.minor')")
    return major, minor, revision


def version_is_compatible(imp_version, version):
    """True when a peer implementing ``imp_version`` can serve a request for ``version``.

    oslo.messaging's rule: no implemented version accepts everything, no
    requested version is accepted by nothing; otherwise the majors must be
    equal and the requested minor not above the implemented one (nor the
    revision, when the minors are equal).
    """
    if imp_version is None:
        return True
    if version is None:
        return False
    imp = parse_version(imp_version)
    req = parse_version(version)
    if req[0] != imp[0] or req[1] > imp[1]:
        return False
    return not (req[1] == imp[1] and req[2] > imp[2])


def raise_load_failure(manager, entrypoint, exc):
    """stevedore's on_load_failure_callback: raise what loading the plugin raised.

    stevedore logs a plugin that fails to import and goes on without it;
    the caller wants the reason, to say it in its own error.
    """
    raise exc
