"""Functional tests: real processes and real services on 127.0.0.1.

Helpers shared by several suites live beside this file (peer_process.py);
this conftest puts the directory on sys.path for every suite below it.
"""
