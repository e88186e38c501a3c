"""Configuration: oslo.config options, one module per group.

Every module has ``register_opts(conf)`` and ``list_opts()``.  Code takes
the ConfigOpts it is given (tests build their own) and registers what it
needs on it; ``cfg.CONF`` is only the default.
"""

from oslo_config import cfg

from svcframe.conf import messaging, rabbit

__all__ = ["CONF", "register_messaging_opts"]

CONF = cfg.CONF


def register_messaging_opts(conf):
    """Register [DEFAULT] messaging, [embedded] and [oslo_messaging_rabbit]."""
    messaging.register_opts(conf)
    rabbit.register_opts(conf)
