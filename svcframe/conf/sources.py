"""Where the configuration comes from, and what its relative paths are relative to.

Both command-line tools read the files given with ``--config-file`` and
``--config-dir``; without them, they search oslo.config's default places
for the project ``svcframe``: ``svcframe.conf`` (and ``svcframe.conf.d/``)
in ``~/.svcframe/``, ``~/``, ``/etc/svcframe/`` and ``/etc/``, the first
found in that order.

A relative path in a config file (``state_path = ./state``) is relative to
the directory of that file, not to the directory the tool runs in, so that
``svc-launch`` and ``svc-manage`` given the same file reach the same state
from anywhere.  A path given on the command line stays relative to the
current directory, as the shell user expects.
"""

import os

import sqlalchemy as sa
from oslo_config import cfg

__all__ = [
    "PROJECT",
    "anchor_relative_paths",
    "default_config_dirs",
    "default_config_files",
    "describe_files",
    "search_dirs",
]

PROJECT = "svcframe"

#: (group, option) of every path option, in the order they are anchored:
#: state_path first, since other defaults interpolate it.
PATH_OPTIONS = (
    (None, "state_path"),
    ("embedded", "data_dir"),
    (None, "log_dir"),
    (None, "log_file"),
    (None, "log_config_append"),
    ("database", "connection"),
)


def search_dirs():
    """The directories searched for ``svcframe.conf`` without ``--config-file``."""
    home = os.path.expanduser("~")
    return [os.path.join(home, "." + PROJECT), home, os.path.join("/etc", PROJECT), "/etc"]


def default_config_files():
    """``svcframe.conf`` from the first search directory that has one, as a list."""
    # prog=PROJECT: both tools read the same file, never svc-launch.conf and svc-manage.conf.
    return list(dict.fromkeys(cfg.find_config_files(project=PROJECT, prog=PROJECT)))


def default_config_dirs():
    """``svcframe.conf.d`` from the first search directory that has one, as a list."""
    return list(dict.fromkeys(cfg.find_config_dirs(project=PROJECT, prog=PROJECT)))


def describe_files(conf):
    """The config files ``conf`` read, for messages: "a.conf, b.conf" or why none."""
    files = list(conf.config_file or [])
    for directory in conf.config_dir or []:
        files.append(os.path.join(directory, "*.conf"))
    if files:
        return ", ".join(os.path.abspath(path) for path in files)
    searched = ", ".join(os.path.join(d, PROJECT + ".conf") for d in search_dirs())
    return f"none (no --config-file, and none of {searched})"


def anchor_relative_paths(conf):
    """Make every relative path option set in a config file relative to that file.

    Each such option gets an override with the absolute path, so that code
    reading it (oslo.log included) needs no change.  Options that are not
    registered on ``conf`` are skipped.
    """
    for group, name in PATH_OPTIONS:
        try:
            value = conf[group][name] if group else conf[name]
            location = conf.get_location(name, group)
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
            continue
        if not value or location is None or location.location is not cfg.Locations.user:
            continue
        base = os.path.dirname(os.path.abspath(location.detail))
        if (group, name) == ("database", "connection"):
            anchored = _anchored_sqlite_url(value, base)
        else:
            anchored = _anchored(value, base)
        if anchored != value:
            conf.set_override(name, anchored, group)


def _anchored(path, base):
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base, path))


def _anchored_sqlite_url(value, base):
    try:
        url = sa.make_url(value)
    except sa.exc.ArgumentError:
        return value  # the registry reports the bad URL when it is used
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return value
    if url.database.startswith("file:"):
        return value
    anchored = _anchored(url.database, base)
    if anchored == url.database:
        return value
    return url.set(database=anchored).render_as_string(hide_password=False)
