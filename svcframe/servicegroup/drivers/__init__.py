"""Servicegroup drivers, loaded by name from the 'svcframe.servicegroup.drivers' entry points."""

from svcframe.servicegroup.drivers.base import ServiceGroupDriver

__all__ = ["NAMESPACE", "ServiceGroupDriver"]

NAMESPACE = "svcframe.servicegroup.drivers"
