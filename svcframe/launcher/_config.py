"""What a configuration reload changed, and whether it can apply in place."""

import logging

from oslo_config import cfg

__all__ = ["Changes", "check_restart_method", "log_options", "reload"]

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


def reload(conf):
    """Re-read the configuration files into ``conf``.

    :returns: the :class:`Changes`, or None if the files could not be read
        (``conf`` then keeps its values; oslo.config logged why).
    """
    before = _snapshot(conf)
    if not conf.reload_config_files():
        return None
    return Changes(conf, before, _snapshot(conf))


def log_options(conf):
    """Log every option's value at DEBUG, if ``[DEFAULT] log_options`` says so."""
    if conf.log_options:
        conf.log_opt_values(LOG, logging.DEBUG)


def check_restart_method(restart_method):
    if restart_method not in ("mutate", "reload"):
        raise ValueError(f"restart_method must be 'mutate' or 'reload', not: {restart_method!r}")
