"""The systemd unit: shipped for /opt/svcframe, written by svc-manage for any environment.

``systemd-analyze verify`` and ``systemd-analyze security --offline`` work
without a running systemd; ``.ci/run`` installs them.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

from svcframe.cmd import manage_systemd

SHIPPED = os.path.join(
    os.path.dirname(__file__),
    os.pardir,
    os.pardir,
    os.pardir,
    "etc",
    "systemd",
    "svcframe@.service",
)
BINDIR = os.path.dirname(sys.executable)
SVC_MANAGE = os.path.join(BINDIR, "svc-manage")
# systemd-analyze security: 0 is fully locked down, 10 is a unit with no hardening.
MAX_EXPOSURE = 2.0


def analyze():
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return path


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60)


@pytest.fixture
def installed(tmp_path):
    """The unit as `svc-manage systemd install` writes it for this environment."""
    result = run(SVC_MANAGE, "systemd", "install", "--unit-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    unit = tmp_path / manage_systemd.UNIT_NAME
    assert result.stdout.startswith(f"Wrote {unit} (ExecStart={BINDIR}/svc-launch)")
    return unit


def test_the_shipped_unit_is_the_one_written_for_opt_svcframe():
    with open(SHIPPED) as f:
        shipped = f.read()
    assert shipped == manage_systemd.render_unit("/opt/svcframe/bin")
    result = run(SVC_MANAGE, "systemd", "unit", "--bindir", "/opt/svcframe/bin")
    assert (result.returncode, result.stdout) == (0, shipped)


def test_the_written_unit_runs_this_environment_and_passes_verify(installed):
    text = installed.read_text()
    directives = dict(
        line.split("=", 1) for line in text.splitlines() if re.match(r"^[A-Z]\w*=", line)
    )
    assert directives["ExecStart"] == (
        f"{BINDIR}/svc-launch --binary %i --config-file /etc/svcframe/svcframe.conf"
    )
    for key, value in {
        "User": "svcframe",
        "Group": "svcframe",
        "StateDirectory": "svcframe",
        "ConfigurationDirectory": "svcframe",
        "RestartPreventExitStatus": "2 3",
        "Restart": "on-failure",
        "Type": "notify",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
    }.items():
        assert directives[key] == value, key
    assert directives["Documentation"].endswith("/operations.html")

    result = run(analyze(), "verify", str(installed.parent / "svcframe@conductor.service"))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Unknown keys and bad values are only warnings: none may concern our unit.
    assert "svcframe@" not in output, output


def test_systemd_analyze_security_rates_the_unit_ok(installed):
    result = run(
        analyze(), "security", "--offline=true", str(installed.parent / "svcframe@worker.service")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(
        r"Overall exposure level for svcframe@worker\.service: ([\d.]+) (\w+)", result.stdout
    )
    assert match, result.stdout
    print(f"systemd-analyze security: exposure {match[1]} {match[2]}")
    assert float(match[1]) <= MAX_EXPOSURE, result.stdout


def test_install_refuses_a_bindir_without_svc_launch(tmp_path):
    result = run(
        SVC_MANAGE, "systemd", "install", "--unit-dir", str(tmp_path), "--bindir", str(tmp_path)
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"svc-manage: error: {tmp_path}/svc-launch is not an executable file: "
        "give the right --bindir\n"
    )
    assert not (tmp_path / manage_systemd.UNIT_NAME).exists()
