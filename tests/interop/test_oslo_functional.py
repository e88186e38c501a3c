"""oslo.messaging's own functional tests, run against svcframe.

``CallTestCase``, ``CastTestCase`` (13 RPC tests) and ``NotifyTestCase``
(7 notification tests) of the installed oslo.messaging's
``tests/functional/test_functional.py``, unmodified, with oslo.messaging's
names replaced by svcframe's (see ``oslo_suite_runner.py``), in four modes:
svcframe alone, oslo.messaging clients and notifiers to svcframe servers and
listeners, the reverse, and oslo.messaging alone as the control.  The modes
run at once, each in its own process (oslo.messaging never runs in the test
process) and on a RabbitMQ virtual host of its own: the notification tests
use fixed topic names on the default exchange.

The control mode tests oslo.messaging, not svcframe, and costs a quarter of
the module's time: it runs with SVCFRAME_TEST_OSLO_CONTROL=1.

In a run that includes other tests, the suites start with the first test
after the chaos scenarios and run beside them (see ``start_in_background``).
"""

import json
import os
import socket
import subprocess
import sys
import tempfile

import pytest
from interop_harness import (
    HERE,
    RABBIT_HOST,
    RABBIT_PORT,
    TRANSPORT_URL,
    create_vhost,
    delete_vhost,
    peer_env,
)

pytestmark = [pytest.mark.rabbit, pytest.mark.slow, pytest.mark.timeout(600)]

RUNNER = os.path.join(HERE, "oslo_suite_runner.py")
CONTROL = os.environ.get("SVCFRAME_TEST_OSLO_CONTROL") == "1"
ALL_MODES = ("svcframe", "oslo-client", "oslo-server", "oslo")
MODES = ALL_MODES if CONTROL else ALL_MODES[:-1]
PARAMS = [
    pytest.param(
        mode,
        marks=pytest.mark.skipif(
            mode not in MODES, reason="the oslo.messaging control: SVCFRAME_TEST_OSLO_CONTROL=1"
        ),
    )
    for mode in ALL_MODES
]
RPC_CASES = ("CallTestCase", "CastTestCase")
RPC_TESTS = 13
NOTIFY_TESTS = 7
# About a minute and a half per mode on an idle machine, several on a busy one.
SUITE_TIMEOUT = 480
# oslo.messaging's notifier waits for a confirm per message: on a loaded
# machine its 205 notifications outlast the 2 s batch timeout and its own
# listener cuts a fourth batch.  Only the control mode sends them that way
# to its own listener; the other three modes must pass it.
CONTROL_TIMING_SENSITIVE = {"NotifyTestCase.test_simple_batch"}


def start_suite(mode, vhost):
    env = peer_env()
    cases = list(RPC_CASES)
    if vhost is None:
        # The variable the functional tests read; without it they skip.
        env["RPC_TRANSPORT_URL"] = TRANSPORT_URL
    else:
        url = f"rabbit://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/{vhost}"
        env["RPC_TRANSPORT_URL"] = env["NOTIFY_TRANSPORT_URL"] = url
        cases.append("NotifyTestCase")
    # Files, not pipes: nobody reads a pipe while the suite runs in the
    # background, and a full one would stop it.
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    proc = subprocess.Popen([sys.executable, RUNNER, mode, *cases], stdout=out, stderr=err, env=env)
    proc.output_files = (out, err)
    return proc


def _output(proc):
    outputs = []
    for stream in proc.output_files:
        stream.seek(0)
        outputs.append(stream.read())
        stream.close()
    return outputs


def collect(mode, proc):
    try:
        proc.wait(timeout=SUITE_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        _out, err = _output(proc)
        return {"(suite)": f"FAIL: timed out after {SUITE_TIMEOUT} s\n{err[-4000:]}"}
    out, err = _output(proc)
    lines = out.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"(suite)": f"FAIL: exit {proc.returncode}\n{err[-4000:]}"}
    # "module.CallTestCase.test_x" -> "CallTestCase.test_x"
    return {
        ".".join(test.rsplit(".", 2)[-2:]): outcome
        for test, outcome in json.loads(lines[-1]).items()
    }


class _Suites:
    """The suites of every mode, started once: early in the background, or by the fixture."""

    vhosts = None
    procs = None

    @classmethod
    def start(cls):
        if cls.procs is None:
            cls.vhosts = {mode: create_vhost("oslo-functional") for mode in MODES}
            cls.procs = {mode: start_suite(mode, cls.vhosts[mode]) for mode in MODES}

    @classmethod
    def finish(cls):
        """Their results by mode; stops and cleans up what is left."""
        try:
            return {mode: collect(mode, proc) for mode, proc in cls.procs.items()}
        finally:
            cls.stop()

    @classmethod
    def stop(cls):
        for proc in (cls.procs or {}).values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for vhost in (cls.vhosts or {}).values():
            if vhost is not None:
                delete_vhost(vhost)
        cls.procs = cls.vhosts = None


def start_in_background():
    """Start the suites while other tests run (the root conftest calls this).

    oslo.messaging's tests mostly wait (3 modes take minutes of wall
    time and seconds of CPU), so the suite waits for them only if they
    have not finished by the time this module's tests run.
    """
    try:
        socket.create_connection((RABBIT_HOST, RABBIT_PORT), timeout=2).close()
    except OSError:
        return  # the rabbit fixture skips the tests, and says why
    _Suites.start()


def stop_background():
    _Suites.stop()


@pytest.fixture(scope="module")
def outcomes(rabbit):
    _Suites.start()
    vhosts = dict(_Suites.vhosts)
    return vhosts, _Suites.finish()


def _report(results, case_prefixes, expected, mode, exempt=()):
    chosen = {t: o for t, o in results.items() if t.startswith(case_prefixes) or t == "(suite)"}
    passed = [t for t, o in chosen.items() if o == "ok" or t in exempt]
    failures = "\n\n".join(f"{t}: {o}" for t, o in chosen.items() if t not in passed)
    assert len(passed) == expected, (
        f"{len(passed)} of {expected} passed in mode {mode}:\n{failures}"
    )


@pytest.mark.parametrize("mode", PARAMS)
def test_oslo_messaging_rpc_tests_pass(outcomes, mode):
    _vhosts, results = outcomes
    _report(results[mode], RPC_CASES, RPC_TESTS, mode)


@pytest.mark.parametrize("mode", PARAMS)
def test_oslo_messaging_notification_tests_pass(outcomes, mode):
    vhosts, results = outcomes
    if vhosts[mode] is None:
        pytest.skip("the notification tests need a virtual host of their own (rabbitmqctl)")
    exempt = CONTROL_TIMING_SENSITIVE if mode == "oslo" else ()
    _report(results[mode], ("NotifyTestCase",), NOTIFY_TESTS, mode, exempt)
