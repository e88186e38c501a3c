"""[oslo_messaging_notifications] options, defined exactly as oslo.messaging defines them.

A process that emits notifications through both libraries (or reads one
nova.conf with both) registers these once: the definitions must stay
identical, help text included, or oslo.config raises DuplicateOptError.
"""

from oslo_config import cfg

from svcframe.conf._groups import register_group_opts

__all__ = ["GROUP", "list_opts", "register_opts"]

GROUP = "oslo_messaging_notifications"

notifications_group = cfg.OptGroup(GROUP)

notifications_opts = [
    cfg.MultiStrOpt(
        "driver",
        default=[],
        help="The Drivers(s) to handle sending notifications. "
        "Possible values are messaging, messagingv2, "
        "routing, log, test, noop",
    ),
    cfg.StrOpt(
        "transport_url",
        secret=True,
        help="A URL representing the messaging driver to use for "
        "notifications. If not set, we fall back to the same "
        "configuration used for RPC.",
    ),
    cfg.ListOpt(
        "topics",
        default=[
            "notifications",
        ],
        help="AMQP topic used for OpenStack notifications.",
    ),
    cfg.IntOpt(
        "retry",
        default=-1,
        help="The maximum number of attempts to re-send a notification "
        "message which failed to be delivered due to a "
        "recoverable error. 0 - No retry, -1 - indefinite",
    ),
]


def register_opts(conf):
    register_group_opts(conf, notifications_group, notifications_opts)


def list_opts():
    return [(notifications_group, notifications_opts)]
