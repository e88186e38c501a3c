"""Where the embedded transport keeps its queues when ``[embedded] data_dir`` is unset.

In memory by default: a directory for the service's ``state_path`` under
``/dev/shm`` (a tmpfs on every Linux host), ``/dev/shm/svcframe-<uid>/<key>``.
A message costs a file created, renamed and deleted; on a disk
filesystem each of those is a journal transaction (and, mounted with
``discard``, a trim of the freed block), which halves the transport's
speed and makes it vary by a factor of two from one second to the next.

This is the RabbitMQ default's guarantee, with the host as the broker:
messages outlive the death of any process, not a restart of the host
(transient queues lose theirs when the broker restarts).  A service that
must keep queued messages across reboots sets ``[embedded] data_dir`` to
a directory on disk, ``$state_path/messaging`` for instance.

Where ``/dev/shm`` is missing or small (a container's default is 64 MB,
about 15,000 queued messages), the default is ``$state_path/messaging``.
Every process of a host finds the same place: the key is a digest of the
real path of ``state_path``, so processes that share a state_path share
queues, as they did when the queues lived under it.
"""

import hashlib
import os

from svcframe import statedir

__all__ = ["configured_data_dir", "default_data_dir", "ensure_private", "private_dirs"]

MEMORY_ROOT = "/dev/shm"
# Below this, a backlog would fill the memory filesystem before a disk.
MIN_MEMORY_BYTES = 1 << 30


def default_data_dir(state_path, memory_root=MEMORY_ROOT):
    """The embedded transport's data directory for ``state_path`` when none is set."""
    state_path = os.path.realpath(os.path.expanduser(state_path))
    if _memory_usable(memory_root):
        key = hashlib.sha256(state_path.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return os.path.join(memory_root, f"svcframe-{os.geteuid()}", key)
    return os.path.join(state_path, "messaging")


def configured_data_dir(conf):
    """``[embedded] data_dir``, or the default for ``state_path`` when it is unset."""
    if conf.embedded.data_dir:
        return os.path.expanduser(conf.embedded.data_dir)
    return default_data_dir(conf.state_path)


def private_dirs(data_dir, memory_root=MEMORY_ROOT):
    """The directories to create or check private for ``data_dir``, outermost first.

    Under ``/dev/shm`` anyone may create a directory, so the per-user
    parent must be ours too: another user's could have our queues renamed
    or replaced from under it.
    """
    data_dir = os.path.abspath(data_dir)
    parent = os.path.dirname(data_dir)
    if os.path.dirname(parent) == memory_root and os.path.basename(parent).startswith("svcframe-"):
        return [parent, data_dir]
    return [data_dir]


def ensure_private(data_dir):
    """Create or check ``data_dir`` (and its per-user parent in memory) 0700; its absolute path."""
    for directory in private_dirs(data_dir):
        checked = statedir.ensure_private_dir(directory)
    return checked


def _memory_usable(root):
    try:
        st = os.statvfs(root)
    except OSError:
        return False
    return st.f_blocks * st.f_frsize >= MIN_MEMORY_BYTES and os.access(root, os.W_OK | os.X_OK)
