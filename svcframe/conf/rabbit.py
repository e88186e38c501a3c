"""[oslo_messaging_rabbit] options, with oslo.messaging's names and defaults.

The queue and exchange flags of a mixed svcframe / oslo.messaging
deployment are computed from these, so the defaults must stay identical
to oslo.messaging's or the broker refuses the second declare (406).
Any option here may be overridden in the transport URL query string
(``rabbit://host/?ssl=1``).  ``svcframe_rabbit_opts`` are svcframe's own
additions to the group, which oslo.messaging does not have.
"""

from oslo_config import cfg

from svcframe.conf._groups import register_group_opts

__all__ = ["GROUP", "list_opts", "register_opts"]

GROUP = "oslo_messaging_rabbit"

rabbit_group = cfg.OptGroup(GROUP, title="RabbitMQ driver options")

rabbit_opts = [
    cfg.BoolOpt(
        "amqp_durable_queues",
        default=False,
        help="Use durable queues in AMQP. If rabbit_quorum_queue is enabled, "
        "queues will be durable and this value will be ignored.",
    ),
    cfg.BoolOpt(
        "amqp_auto_delete",
        default=False,
        deprecated_group="DEFAULT",
        help="Auto-delete queues in AMQP.",
    ),
    cfg.BoolOpt("ssl", default=False, deprecated_name="rabbit_use_ssl", help="Connect over SSL."),
    cfg.StrOpt(
        "ssl_version",
        default="",
        help="SSL version to use (valid only if SSL enabled). Valid values are "
        "TLSv1 and SSLv23. SSLv2, SSLv3, TLSv1_1, and TLSv1_2 may be available "
        "on some distributions.",
    ),
    cfg.StrOpt("ssl_key_file", default="", help="SSL key file (valid only if SSL enabled)."),
    cfg.StrOpt("ssl_cert_file", default="", help="SSL cert file (valid only if SSL enabled)."),
    cfg.StrOpt(
        "ssl_ca_file",
        default="",
        help="SSL certification authority file (valid only if SSL enabled).",
    ),
    cfg.BoolOpt(
        "ssl_enforce_hostname_verification",
        default=True,
        help="When true, verify the broker hostname against the certificate "
        "(valid only if SSL enabled).",
    ),
    cfg.FloatOpt(
        "kombu_reconnect_delay",
        default=1.0,
        min=0.0,
        help="How long to wait (in seconds) before reconnecting in response to "
        "an AMQP consumer cancel notification.",
    ),
    cfg.FloatOpt(
        "kombu_reconnect_splay",
        default=0.0,
        min=0.0,
        help="Random time to wait for when reconnecting in response to an AMQP "
        "consumer cancel notification.",
    ),
    cfg.IntOpt(
        "kombu_missing_consumer_retry_timeout",
        default=60,
        deprecated_name="kombu_reconnect_timeout",
        help="How long to wait a missing client before abandoning to send it "
        "its replies. This value should not be longer than rpc_response_timeout.",
    ),
    cfg.StrOpt(
        "kombu_failover_strategy",
        default="round-robin",
        choices=("round-robin", "shuffle"),
        help="Determines how the next RabbitMQ node is chosen in case the one "
        "we are currently connected to becomes unavailable. Takes effect only "
        "if more than one RabbitMQ node is provided in config.",
    ),
    cfg.StrOpt(
        "rabbit_login_method",
        default="AMQPLAIN",
        choices=("PLAIN", "AMQPLAIN", "EXTERNAL", "RABBIT-CR-DEMO"),
        help="The RabbitMQ login method.",
    ),
    cfg.IntOpt(
        "rabbit_retry_interval",
        default=1,
        help="How frequently to retry connecting with RabbitMQ.",
    ),
    cfg.IntOpt(
        "rabbit_retry_backoff",
        default=2,
        help="How long to backoff for between retries when connecting to RabbitMQ.",
    ),
    cfg.IntOpt(
        "rabbit_interval_max",
        default=30,
        help="Maximum interval of RabbitMQ connection retries.",
    ),
    cfg.BoolOpt(
        "rabbit_ha_queues",
        default=False,
        help="Try to use HA queues in RabbitMQ (x-ha-policy: all). Ignored by "
        "RabbitMQ 3.0 and later; kept so that declare arguments match "
        "oslo.messaging's for the same configuration.",
    ),
    cfg.BoolOpt(
        "rabbit_quorum_queue",
        default=False,
        help="Use quorum queues in RabbitMQ (x-queue-type: quorum). Queues "
        "become durable. Needed on RabbitMQ 4.3 and later, which refuses "
        "transient non-exclusive queues.",
    ),
    cfg.BoolOpt(
        "rabbit_transient_quorum_queue",
        default=False,
        help="Use quorum queues for transients queues in RabbitMQ (reply and fanout queues).",
    ),
    cfg.IntOpt(
        "rabbit_quorum_delivery_limit",
        default=0,
        help="Each time a message is redelivered to a consumer, a counter is "
        "incremented. Once the redelivery count exceeds the delivery limit the "
        "message gets dropped or dead-lettered. 0 means no limit.",
    ),
    cfg.IntOpt(
        "rabbit_quorum_max_memory_length",
        default=0,
        deprecated_name="rabbit_quroum_max_memory_length",
        help="Limit the number of messages a quorum queue keeps in memory. 0 means no limit.",
    ),
    cfg.IntOpt(
        "rabbit_quorum_max_memory_bytes",
        default=0,
        deprecated_name="rabbit_quroum_max_memory_bytes",
        help="Limit the bytes a quorum queue keeps in memory. 0 means no limit.",
    ),
    cfg.IntOpt(
        "rabbit_transient_queues_ttl",
        min=0,
        default=1800,
        help="Positive integer representing duration in seconds for queue TTL "
        "(x-expires). Queues which are unused for the duration of the TTL are "
        "automatically deleted. The parameter affects only reply and fanout queues.",
    ),
    cfg.IntOpt(
        "rabbit_qos_prefetch_count",
        default=0,
        help="Specifies the number of messages to prefetch. Setting to zero "
        "allows unlimited messages.",
    ),
    cfg.IntOpt(
        "heartbeat_timeout_threshold",
        default=60,
        help="Number of seconds after which the Rabbit broker is considered "
        "down if heartbeat's keep-alive fails (0 disables heartbeat).",
    ),
    cfg.IntOpt(
        "heartbeat_rate",
        default=3,
        min=1,
        help="How often times during the heartbeat_timeout_threshold we check the heartbeat.",
    ),
    cfg.BoolOpt(
        "direct_mandatory_flag",
        default=True,
        help="Publish replies with the mandatory flag, so that a reply to a "
        "queue that is gone is noticed and retried instead of lost silently.",
    ),
    cfg.BoolOpt(
        "enable_cancel_on_failover",
        default=False,
        help="Enable x-cancel-on-ha-failover flag so that rabbitmq server will "
        "cancel and notify consumers when queue is down.",
    ),
]


svcframe_rabbit_opts = [
    cfg.BoolOpt(
        "ssl_insecure_skip_verify",
        default=False,
        help="With ssl enabled, do not verify the broker's certificate at all: "
        "no chain, no host name. Anyone on the network path can then pose as "
        "the broker and read the credentials and every message. For tests "
        "only; a warning is logged when a transport starts with it.",
    ),
]


def register_opts(conf):
    register_group_opts(conf, rabbit_group, rabbit_opts + svcframe_rabbit_opts)


def list_opts():
    return [(rabbit_group, rabbit_opts + svcframe_rabbit_opts)]
