"""Every suite: unit, contract, functional, interop and chaos.

Helpers shared by more than one suite's directory live beside this file
(private_rabbit.py); this conftest puts the directory on sys.path for every
suite below it.

A test module that mostly waits on processes of its own may define
``start_in_background()`` (and ``stop_background()``): the first is called
once, at the first test outside ``tests/chaos`` (whose scenarios load the
machine), when one of the module's tests is selected; the second at the end
of the session.
"""

import os
import shutil

import pytest

from svcframe.messaging.drivers.embedded import location

_background = {"modules": [], "started": False}


def pytest_collection_finish(session):
    modules = {}
    for item in session.items:
        module = getattr(item, "module", None)
        if module is not None and hasattr(module, "start_in_background"):
            modules[module.__name__] = module
    _background["modules"] = list(modules.values())


def pytest_runtest_setup(item):
    if _background["started"] or not _background["modules"]:
        return
    if item.nodeid.startswith("tests/chaos/"):
        return
    _background["started"] = True
    for module in _background["modules"]:
        module.start_in_background()


def pytest_sessionfinish(session):
    if _background["started"]:
        for module in _background["modules"]:
            stop = getattr(module, "stop_background", None)
            if stop is not None:
                stop()


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
