"""Every suite: unit, contract, functional, interop and chaos.

Helpers shared by more than one suite's directory live beside this file
(private_rabbit.py); this conftest puts the directory on sys.path for every
suite below it.
"""
