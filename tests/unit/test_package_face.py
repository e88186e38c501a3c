"""The package's face: the names a service is written with, imported on first use."""

import subprocess
import sys

import pytest

import svcframe
from svcframe import manager, rpcapi, service


def test_the_face_names_the_runtime_objects():
    from svcframe import RPCAPI, Manager, Service, serve, wait

    assert (Service, serve, wait) == (service.Service, service.serve, service.wait)
    assert Manager is manager.Manager
    assert RPCAPI is rpcapi.RPCAPI
    assert set(svcframe.__all__) == {"RPCAPI", "Manager", "Service", "__version__", "serve", "wait"}
    assert set(svcframe.__all__) <= set(dir(svcframe))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Launcher'"):
        svcframe.Launcher  # noqa: B018
    with pytest.raises(ImportError):
        from svcframe import Launcher  # noqa: F401


def test_importing_the_package_imports_none_of_the_runtime():
    # svc-manage, the config modules and eventlet users (who patch before
    # the messaging stack is imported) all import the package first.
    code = (
        "import sys, svcframe\n"
        "print(sorted(m for m in sys.modules if m.startswith("
        "('svcframe.', 'kombu', 'oslo_service', 'oslo_config', 'eventlet'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
