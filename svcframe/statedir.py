"""The state a service keeps on its host is private to the user running it.

Everything created under ``state_path`` (the embedded transport's queues,
the SQLite service registry) is a 0700 directory or a 0600 file, whatever
the umask.  A directory that already exists is used only when the running
user owns it and nobody else can write to it: another local user who
could drop a file there could make the service run it as an RPC request.
Files are created with ``O_NOFOLLOW`` (and ``O_EXCL`` where they are new)
so that a planted symbolic link cannot redirect them.
"""

import errno
import os
import stat

__all__ = [
    "UnsafeStateDirectory",
    "check_private_dir",
    "ensure_private_dir",
    "make_private",
    "open_private_file",
    "service_state_dirs",
]

DIR_MODE = 0o700
FILE_MODE = 0o600


class UnsafeStateDirectory(Exception):
    """A state directory or file another user could write to, or redirect."""


def check_private_dir(path, st=None):
    """Raise UnsafeStateDirectory unless ``path`` is a directory of ours that only we can write."""
    if st is None:
        st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeStateDirectory(
            f"state directory {path} is not a directory: remove it or choose another state_path"
        )
    uid = os.geteuid()
    if st.st_uid != uid:
        raise UnsafeStateDirectory(
            f"state directory {path} is owned by uid {st.st_uid}, not by the user running "
            f"the service (uid {uid}): run 'chown {uid} {path}' and 'chmod 700 {path}', "
            "or choose another state_path"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeStateDirectory(
            f"state directory {path} is writable by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}): run 'chmod 700 {path}'"
        )


def ensure_private_dir(path):
    """Create ``path`` (and missing parents) 0700, or check the existing one; its absolute path."""
    path = os.path.abspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        _make_private_dirs(path)
        st = os.stat(path)
    check_private_dir(path, st)
    return path


def _make_private_dirs(path):
    parent = os.path.dirname(path)
    if parent != path and not os.path.exists(parent):
        _make_private_dirs(parent)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return
    # The umask may have taken bits away; set exactly 0700 on what we made.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fchmod(fd, DIR_MODE)
    finally:
        os.close(fd)


def open_private_file(path, flags=os.O_WRONLY, exclusive=True):
    """A file descriptor on ``path``, created 0600; never through a symbolic link.

    ``exclusive`` (the default) requires the file to be new.  An existing
    file is made 0600 when it is ours.
    """
    flags |= os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    if exclusive:
        flags |= os.O_EXCL
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP and os.path.islink(path):
            raise UnsafeStateDirectory(
                f"{path} is a symbolic link: remove it (state files are never followed "
                "through links)"
            ) from None
        raise
    try:
        st = os.fstat(fd)
        if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def make_private(path):
    """Make an existing file of ours 0600 by its path, without opening it; refuse a link."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeStateDirectory(
            f"{path} is a symbolic link: remove it (state files are never followed through links)"
        )
    if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != FILE_MODE:
        os.chmod(path, FILE_MODE)  # checked above: not a link


def service_state_dirs(conf):
    """Where a service on ``conf`` keeps state: state_path, and the embedded data directory."""
    from svcframe.messaging.drivers.embedded import location
    from svcframe.messaging.transport import _configured_url  # the one rule for "unset"

    dirs = [conf.state_path]
    url = _configured_url(conf)
    if not url or url.startswith("embedded:"):
        dirs += location.private_dirs(location.configured_data_dir(conf))
    return dirs
