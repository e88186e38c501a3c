"""Transport drivers, loaded by URL scheme from the ``svcframe.drivers`` namespace."""
