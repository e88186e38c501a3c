"""The kombu driver: what the RabbitMQ, embedded and fake transports share.

``driver`` holds KombuDriver, which the transport drivers subclass.
Sending: ``outgoing`` (a message on its way and the broker's verdict),
``publisher`` (one connection with pipelined confirms), ``returns`` (what
becomes of a message the broker returned), ``upkeep`` (the publisher's
thread), ``notify`` (notifications, both ways).  Receiving: ``listener``
(a server's consumers), ``reply`` (call replies), ``payload`` (a body
read within limits).  ``connection`` connects and keeps consumer threads
alive across broker loss; ``frames`` reads and writes AMQP frames on
RabbitMQ without py-amqp's per-frame overhead.
"""

from svcframe.messaging.drivers.kombu.driver import KombuDriver

__all__ = ["KombuDriver"]
