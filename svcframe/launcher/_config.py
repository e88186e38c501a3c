"""What a configuration reload changed, and whether it can apply in place."""

import logging

from oslo_config import cfg

__all__ = ["Changes", "check_restart_method", "clear_cache", "log_options", "mutate", "reload"]

LOG = logging.getLogger("svcframe.launcher")

_UNREADABLE = object()


def _value(read):
    try:
        return read()
    except cfg.Error:
        # A value that fails to parse or interpolate still has to compare
        # unequal to any readable one.
        return _UNREADABLE


def _snapshot(conf):
    values = {}
    for key in conf:
        value = _value(lambda key=key: conf[key])
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for name in value:
                values[(key, name)] = _value(lambda value=value, name=name: value[name])
        else:
            values[(None, key)] = value
    return values


def _is_mutable(conf, group, name):
    # oslo.config has no public accessor for an option's definition.
    return conf._get_opt_info(name, group)["opt"].mutable


class Changes:
    """Options whose value differs after a reload, split by mutability."""

    def __init__(self, conf, before, after):
        changed = sorted(
            (key for key in before.keys() | after.keys() if before.get(key) != after.get(key)),
            key=lambda key: (key[0] or "", key[1]),
        )
        self.mutable = []
        self.immutable = []
        for group, name in changed:
            try:
                mutable = _is_mutable(conf, group, name)
            except cfg.NoSuchOptError:
                mutable = False
            (self.mutable if mutable else self.immutable).append((group, name))

    def __bool__(self):
        return bool(self.mutable or self.immutable)

    @staticmethod
    def describe(keys):
        return ", ".join(f"[{group or 'DEFAULT'}] {name}" for group, name in keys)


def clear_cache(conf):
    """Forget the option values ``conf`` cached; the next reads see its namespaces."""
    # oslo.config has no public method that only does this.
    conf._ConfigOpts__cache.clear()


def _read(conf, group, name):
    return conf[group][name] if group else conf[name]


def _invalid(conf, before, after):
    """(option, reason) of each option the reload made unreadable."""
    invalid = []
    for key in sorted(after, key=lambda key: (key[0] or "", key[1])):
        if after[key] is _UNREADABLE and before.get(key) is not _UNREADABLE:
            group, name = key
            try:
                _read(conf, group, name)
            except cfg.Error as exc:
                invalid.append((Changes.describe([key]), str(exc)))
    return invalid


def reload(conf):
    """Re-read the configuration files into ``conf``.

    oslo.config checks a value only when it is read, so a reload is undone
    if it gives an option a value that cannot be read (out of range, not a
    number, ...): applied, it would break every later read of the option in
    the workers, or keep every new worker from starting.

    :returns: the :class:`Changes`, or None if the files could not be read
        or hold an invalid value (``conf`` then keeps its values; why is
        logged).
    """
    before = _snapshot(conf)
    # oslo.config has no public way back to the values before a reload:
    # put its namespace back and forget the values it cached since.
    previous = conf._namespace
    if not conf.reload_config_files():
        return None
    after = _snapshot(conf)
    invalid = _invalid(conf, before, after)
    if invalid:
        conf._namespace = previous
        clear_cache(conf)
        for option, reason in invalid:
            LOG.error("Invalid value of %s in the configuration files: %s", option, reason)
        return None
    return Changes(conf, before, after)


def mutate(conf):
    """``conf.mutate_config_files()``, undone if a mutable option gets an invalid value.

    Also forgets the values oslo.config cached while it re-read the files:
    it empties its cache before reading them, not after, so a request
    thread reading an option meanwhile caches the old value, which would
    otherwise outlive the reload.

    :returns: (option, reason) of each invalid value, logged; empty if the
        new values apply.
    """
    before = _snapshot(conf)
    # oslo.config has no public way back to the values before a mutation.
    previous = conf._mutable_ns
    conf.mutate_config_files()
    clear_cache(conf)
    invalid = _invalid(conf, before, _snapshot(conf))
    if invalid:
        conf._mutable_ns = previous
        clear_cache(conf)
        for option, reason in invalid:
            LOG.error("Invalid value of %s in the configuration files: %s", option, reason)
    return invalid


def log_options(conf):
    """Log every option's value at DEBUG, if ``[DEFAULT] log_options`` says so."""
    if conf.log_options:
        conf.log_opt_values(LOG, logging.DEBUG)


def check_restart_method(restart_method):
    if restart_method not in ("mutate", "reload"):
        raise ValueError(f"restart_method must be 'mutate' or 'reload', not: {restart_method!r}")
