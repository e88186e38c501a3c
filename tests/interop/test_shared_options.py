"""svcframe and oslo.messaging register their shared options on one ConfigOpts.

oslo.config raises DuplicateOptError when an option is registered twice
with definitions that differ in anything (type, default, help, bounds,
deprecations): every option both libraries define must be defined
identically, compared as ``register_opt`` compares them (``Opt.__eq__``)
against the installed oslo.messaging.
"""

import json
import os
import subprocess
import sys

import pytest
from interop_harness import HERE, peer_env

PROBE = os.path.join(HERE, "shared_options_probe.py")


def probe(order):
    out = subprocess.run(
        [sys.executable, PROBE, order],
        capture_output=True,
        text=True,
        timeout=120,
        env=peer_env(),
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def svcframe_first():
    return probe("svcframe-first")


def test_every_shared_option_is_defined_as_oslo_messaging_defines_it(svcframe_first):
    # DEFAULT, oslo_messaging_rabbit and oslo_messaging_notifications.
    assert svcframe_first["shared"] >= 37
    assert svcframe_first["different"] == []


def test_both_register_on_one_config_in_either_order(svcframe_first):
    assert svcframe_first["registration"] == {
        "svcframe then oslo": "ok",
        "oslo then svcframe": "ok",
        "cfg.CONF, svcframe-first": "ok",
    }


def test_both_register_on_cfg_conf_oslo_first():
    assert probe("oslo-first")["registration"]["cfg.CONF, oslo-first"] == "ok"


def test_set_transport_defaults_keeps_the_definitions_identical(svcframe_first):
    # nova's rpc.set_defaults(control_exchange='nova') before anything registers.
    assert svcframe_first["defaults"] == {"registration": "ok", "control_exchange": "nova"}
