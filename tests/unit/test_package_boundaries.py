"""Packages with private modules are used through their face from the rest of svcframe."""

import pathlib
import re

import pytest

import svcframe

ROOT = pathlib.Path(svcframe.__file__).parent


@pytest.mark.parametrize("package", ["launcher", "servicegroup"])
def test_private_modules_are_imported_only_inside_their_package(package):
    private = re.compile(rf"svcframe\.{package}\._|svcframe\.{package} import _")
    offenders = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if path.relative_to(ROOT).parts[0] != package and private.search(path.read_text())
    ]
    assert offenders == []
