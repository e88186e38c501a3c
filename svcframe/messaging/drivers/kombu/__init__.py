"""The kombu driver: what the RabbitMQ, embedded and fake transports share.

``driver`` holds KombuDriver, which the transport drivers subclass;
``publisher`` sends, ``listener`` serves a target, ``reply`` waits for
call replies, ``notify`` sends and reads notifications, ``connection``
connects and keeps consumer threads alive across broker loss, and
``payload`` reads a delivery's body within limits.
"""

from svcframe.messaging.drivers.kombu.driver import KombuDriver

__all__ = ["KombuDriver"]
