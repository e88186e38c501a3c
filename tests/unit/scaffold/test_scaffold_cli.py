"""tools/new-component and svc-manage component new: one implementation, two commands."""

import pathlib
import subprocess
import sys

import pytest

from svcframe.cmd import manage
from svcframe.scaffold import cli

ROOT = pathlib.Path(__file__).resolve().parents[3]
TOOL = ROOT / "tools" / "new-component"
# Unlikely to be an installed component, so that these tests do not depend on the environment.
NAME = "scaffold_cli_check"

EXPECTED_FILES = [
    "pyproject.toml",
    "README.md",
    ".gitignore",
    f"svc_{NAME}/__init__.py",
    f"svc_{NAME}/manager.py",
    f"svc_{NAME}/rpcapi.py",
    f"svc_{NAME}/opts.py",
    f"etc/{NAME}.conf",
    f"tests/test_{NAME}_unit.py",
    f"tests/test_{NAME}_functional.py",
]


def test_new_component_prints_the_files_and_the_next_steps(tmp_path, capsys):
    dest = tmp_path / "project"
    assert cli.main([NAME, "--dest", str(dest)]) == 0
    out = capsys.readouterr().out
    assert f"Generated component {NAME!r} (package svc_{NAME}) in {dest}/:" in out
    listed = [
        line.strip() for line in out.splitlines() if line.startswith("  ") and "#" not in line
    ]
    assert listed[: len(EXPECTED_FILES)] == EXPECTED_FILES
    assert f"cd {dest} && pip install -e '.[test]'" in out
    assert f"svc-launch --binary {NAME} --config-file etc/{NAME}.conf" in out
    assert f"rpc call {NAME} hello --arg name=Ada" in out
    assert "pytest tests" in out
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == sorted(
        EXPECTED_FILES
    )


def test_the_default_directory_is_svc_name_in_the_current_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main([NAME, "--package", "acme_check"]) == 0
    assert (tmp_path / f"svc-{NAME}" / "acme_check" / "manager.py").is_file()
    assert "(package acme_check)" in capsys.readouterr().out


def test_svc_manage_component_new_is_the_same_command(tmp_path, capsys):
    dest = tmp_path / "project"
    assert manage.main(["component", "new", NAME, "--dest", str(dest)]) == 0
    assert "Next steps:" in capsys.readouterr().out
    assert (dest / f"svc_{NAME}" / "rpcapi.py").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Billing"], "invalid component name 'Billing': use a lowercase identifier"),
        (["conductor"], "a component named 'conductor' is already installed"),
        ([NAME, "--package", "os"], "package name 'os' is taken by os"),
        ([NAME, "--dest", "{existing}"], "already exists; use --force"),
    ],
)
@pytest.mark.parametrize("command", ["new-component", "svc-manage"])
def test_errors_are_one_line_and_exit_1(tmp_path, capsys, command, args, message):
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep").write_text("")
    args = [arg.format(existing=existing) for arg in args]
    if command == "svc-manage":
        status = manage.main(["component", "new", *args])
    else:
        status = cli.main(args)
    assert status == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"{command}: error: ")
    assert message in captured.err
    assert len(captured.err.splitlines()) == 1


def test_force_writes_into_an_existing_directory(tmp_path, capsys):
    dest = tmp_path / "project"
    dest.mkdir()
    (dest / "keep").write_text("mine")
    assert cli.main([NAME, "--dest", str(dest), "--force"]) == 0
    assert (dest / "keep").read_text() == "mine"
    assert (dest / "pyproject.toml").is_file()


def test_the_tool_is_an_executable_script(tmp_path):
    assert TOOL.stat().st_mode & 0o111
    result = subprocess.run(
        [sys.executable, str(TOOL), NAME, "--dest", str(tmp_path / "p")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Next steps:" in result.stdout
    bad = subprocess.run(
        [sys.executable, str(TOOL), "Bad-Name"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("new-component: error: invalid component name 'Bad-Name'")
