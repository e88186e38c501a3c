"""[oslo_messaging_rabbit] options, defined exactly as oslo.messaging defines them.

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
    # Every option here is also oslo.messaging's, defined exactly as it
    # defines it (help text included), so that both register on one
    # ConfigOpts; tests/interop/test_shared_options.py holds them to it.
    # oslo.messaging's upper bound on kombu_reconnect_delay is
    # ACK_REQUEUE_EVERY_SECONDS_MAX (5.0) * 0.9.
    cfg.BoolOpt(
        "amqp_durable_queues",
        default=False,
        help="Use durable queues in AMQP. If rabbit_quorum_queue "
        "is enabled, queues will be durable and this value will "
        "be ignored.",
    ),
    cfg.BoolOpt("amqp_auto_delete", default=False, help="Auto-delete queues in AMQP."),
    cfg.BoolOpt("ssl", default=False, help="Connect over SSL."),
    cfg.StrOpt(
        "ssl_version",
        default="",
        help="SSL version to use (valid only if SSL enabled). "
        "Valid values are TLSv1 and SSLv23. SSLv2, SSLv3, "
        "TLSv1_1, and TLSv1_2 may be available on some "
        "distributions.",
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
        deprecated_for_removal=True,
        deprecated_reason="Verification is always enabled now",
        help="When true, verify the broker hostname against the "
        "certificate when ``ssl_ca_file`` is set. When false, "
        "``ssl`` with ``ssl_ca_file`` still validates the "
        "certificate chain but does not verify the broker "
        "hostname. ``ssl=true`` without ``ssl_ca_file`` never "
        "enables hostname verification.",
    ),
    cfg.FloatOpt(
        "kombu_reconnect_delay",
        default=1.0,
        min=0.0,
        max=4.5,
        help="How long to wait (in seconds) before reconnecting in "
        "response to an AMQP consumer cancel notification.",
    ),
    cfg.FloatOpt(
        "kombu_reconnect_splay",
        default=0.0,
        min=0.0,
        help="Random time to wait for when reconnecting in response "
        "to an AMQP consumer cancel notification.",
    ),
    cfg.IntOpt(
        "kombu_missing_consumer_retry_timeout",
        deprecated_name="kombu_reconnect_timeout",
        default=60,
        help="How long to wait a missing client before abandoning to "
        "send it its replies. This value should not be longer "
        "than rpc_response_timeout.",
    ),
    cfg.StrOpt(
        "kombu_failover_strategy",
        choices=("round-robin", "shuffle"),
        default="round-robin",
        help="Determines how the next RabbitMQ node is chosen in case "
        "the one we are currently connected to becomes "
        "unavailable. Takes effect only if more than one "
        "RabbitMQ node is provided in config.",
    ),
    cfg.StrOpt(
        "rabbit_login_method",
        choices=("PLAIN", "AMQPLAIN", "EXTERNAL", "RABBIT-CR-DEMO"),
        default="AMQPLAIN",
        help="The RabbitMQ login method.",
    ),
    cfg.IntOpt(
        "rabbit_retry_interval",
        min=1,
        default=1,
        help="How frequently to retry connecting with RabbitMQ.",
    ),
    cfg.IntOpt(
        "rabbit_retry_backoff",
        default=2,
        min=0,
        help="How long to backoff for between retries when connecting to RabbitMQ.",
    ),
    cfg.IntOpt(
        "rabbit_interval_max",
        default=30,
        min=1,
        help="Maximum interval of RabbitMQ connection retries.",
    ),
    cfg.BoolOpt(
        "rabbit_ha_queues",
        default=False,
        help="Try to use HA queues in RabbitMQ (x-ha-policy: all). "
        "If you change this option, you must wipe the RabbitMQ "
        "database. In RabbitMQ 3.0, queue mirroring is no longer "
        "controlled by the x-ha-policy argument when declaring a "
        "queue. If you just want to make sure that all queues (except "
        "those with auto-generated names) are mirrored across all "
        "nodes, run: "
        """\"rabbitmqctl set_policy HA '^(?!amq\\.).*' """
        """'{"ha-mode": "all"}' \"""",
    ),
    cfg.BoolOpt(
        "rabbit_quorum_queue",
        default=False,
        help="Use quorum queues in RabbitMQ (x-queue-type: quorum). "
        "The quorum queue is a modern queue type for RabbitMQ "
        "implementing a durable, replicated FIFO queue based on the "
        "Raft consensus algorithm. It is available as of "
        "RabbitMQ 3.8.0. If set this option will conflict with "
        "the HA queues (``rabbit_ha_queues``) aka mirrored queues, "
        "in other words the HA queues should be disabled. "
        "Quorum queues are also durable by default so the "
        "amqp_durable_queues option is ignored when this option is "
        "enabled.",
    ),
    cfg.BoolOpt(
        "rabbit_transient_quorum_queue",
        default=False,
        help="Use quorum queues for transients queues in RabbitMQ. "
        "Enabling this option will then make sure those queues are "
        "also using quorum kind of rabbit queues, which are HA by "
        "default.",
    ),
    cfg.IntOpt(
        "rabbit_quorum_delivery_limit",
        default=0,
        help="Each time a message is redelivered to a consumer, "
        "a counter is incremented. Once the redelivery count "
        "exceeds the delivery limit the message gets dropped "
        "or dead-lettered (if a DLX exchange has been configured) "
        "Used only when rabbit_quorum_queue is enabled, "
        "Default 0 which means dont set a limit.",
    ),
    cfg.IntOpt(
        "rabbit_quorum_max_memory_length",
        default=0,
        help="By default all messages are maintained in memory "
        "if a quorum queue grows in length it can put memory "
        "pressure on a cluster. This option can limit the number "
        "of messages in the quorum queue. "
        "Used only when rabbit_quorum_queue is enabled, "
        "Default 0 which means dont set a limit.",
    ),
    cfg.IntOpt(
        "rabbit_quorum_max_memory_bytes",
        default=0,
        help="By default all messages are maintained in memory "
        "if a quorum queue grows in length it can put memory "
        "pressure on a cluster. This option can limit the number "
        "of memory bytes used by the quorum queue. "
        "Used only when rabbit_quorum_queue is enabled, "
        "Default 0 which means dont set a limit.",
    ),
    cfg.IntOpt(
        "rabbit_transient_queues_ttl",
        min=0,
        default=1800,
        help="Positive integer representing duration in seconds for "
        "queue TTL (x-expires). Queues which are unused for the "
        "duration of the TTL are automatically deleted. The "
        "parameter affects only reply and fanout queues. Setting "
        "0 as value will disable the x-expires. If doing so, "
        "make sure you have a rabbitmq policy to delete the "
        "queues or you deployment will create an infinite number "
        "of queue over time."
        "In case rabbit_stream_fanout is set to True, this option "
        "will control data retention policy (x-max-age) for "
        "messages in the fanout queue rather then the queue "
        "duration itself. So the oldest data in the stream queue "
        "will be discarded from it once reaching TTL "
        "Setting to 0 will disable x-max-age for stream which "
        "make stream grow indefinitely filling up the diskspace",
    ),
    cfg.IntOpt(
        "rabbit_qos_prefetch_count",
        default=0,
        help="Specifies the number of messages to prefetch. Setting to "
        "zero allows unlimited messages.",
    ),
    cfg.IntOpt(
        "heartbeat_timeout_threshold",
        default=60,
        help="Number of seconds after which the Rabbit broker is "
        "considered down if heartbeat's keep-alive fails "
        "(0 disables heartbeat).",
    ),
    cfg.IntOpt(
        "heartbeat_rate",
        default=3,
        help="How often times during the heartbeat_timeout_threshold we check the heartbeat.",
    ),
    cfg.BoolOpt(
        "direct_mandatory_flag",
        default=True,
        deprecated_for_removal=True,
        deprecated_reason="Mandatory flag no longer deactivable.",
        help="(DEPRECATED) Enable/Disable the RabbitMQ mandatory "
        "flag for direct send. The direct send is used as reply, "
        "so the MessageUndeliverable exception is raised "
        "in case the client queue does not exist."
        "MessageUndeliverable exception will be used to loop for a "
        "timeout to lets a chance to sender to recover."
        "This flag is deprecated and it will not be possible to "
        "deactivate this functionality anymore",
    ),
    cfg.BoolOpt(
        "enable_cancel_on_failover",
        default=False,
        help="Enable x-cancel-on-ha-failover flag so that "
        "rabbitmq server will cancel and notify consumers"
        "when queue is down",
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
