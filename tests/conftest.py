"""Every suite: unit, contract, functional, interop and chaos.

Helpers shared by more than one suite's directory live beside this file
(private_rabbit.py); this conftest puts the directory on sys.path for every
suite below it.
"""

import os
import shutil

import pytest

from svcframe.messaging.drivers.embedded import location


@pytest.fixture(scope="session", autouse=True)
def _remove_embedded_queues_in_memory():
    """Delete the in-memory queue directories of the tests' temporary state paths.

    The embedded transport keeps its queues under /dev/shm for each
    state_path; the state paths go with the tests' temporary directories,
    their queues would stay in memory until a reboot.
    """
    probe = os.path.dirname(location.default_data_dir("/"))
    before = set(os.listdir(probe)) if os.path.isdir(probe) else set()
    yield
    if os.path.dirname(probe) == location.MEMORY_ROOT and os.path.isdir(probe):
        for name in set(os.listdir(probe)) - before:
            shutil.rmtree(os.path.join(probe, name), ignore_errors=True)
