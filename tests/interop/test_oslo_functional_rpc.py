"""oslo.messaging's own functional RPC tests, run against svcframe.

``CallTestCase`` and ``CastTestCase`` of the installed oslo.messaging's
``tests/functional/test_functional.py`` (13 tests), unmodified, with
oslo.messaging's RPC names replaced by svcframe's (see
``oslo_suite_runner.py``), in four modes: svcframe alone, oslo.messaging
clients calling svcframe servers, svcframe clients calling oslo.messaging
servers, and oslo.messaging alone as the control.  The modes run at once,
each in its own process (oslo.messaging never runs in the test process).
"""

import json
import os
import subprocess
import sys

import pytest
from interop_harness import HERE, TRANSPORT_URL, peer_env

pytestmark = [pytest.mark.rabbit, pytest.mark.slow]

RUNNER = os.path.join(HERE, "oslo_suite_runner.py")
MODES = ("svcframe", "oslo-client", "oslo-server", "oslo")
CASES = ("CallTestCase", "CastTestCase")
EXPECTED = 13
# About a minute per mode when the machine is idle.
SUITE_TIMEOUT = 280


def start_suites(cases, modes=MODES):
    env = peer_env()
    # The variable the functional tests read; without it they skip.
    env["RPC_TRANSPORT_URL"] = TRANSPORT_URL
    return {
        mode: subprocess.Popen(
            [sys.executable, RUNNER, mode, *cases],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for mode in modes
    }


def collect(procs):
    outcomes = {}
    for mode, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=SUITE_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            outcomes[mode] = {"(suite)": f"FAIL: timed out after {SUITE_TIMEOUT} s\n{err[-4000:]}"}
            continue
        lines = out.strip().splitlines()
        if proc.returncode != 0 or not lines:
            outcomes[mode] = {"(suite)": f"FAIL: exit {proc.returncode}\n{err[-4000:]}"}
            continue
        outcomes[mode] = json.loads(lines[-1])
    return outcomes


@pytest.fixture(scope="module")
def outcomes(rabbit):
    return collect(start_suites(CASES))


def _failures(results):
    return "\n\n".join(f"{test}: {outcome}" for test, outcome in results.items() if outcome != "ok")


@pytest.mark.parametrize("mode", MODES)
def test_oslo_messaging_rpc_tests_pass(outcomes, mode):
    results = outcomes[mode]
    passed = sorted(
        test.rsplit(".", 2)[-2] + "." + test.rsplit(".", 1)[-1]
        for test, outcome in results.items()
        if outcome == "ok"
    )
    assert len(passed) == EXPECTED, (
        f"{len(passed)} of {EXPECTED} passed in mode {mode}:\n" + _failures(results)
    )
