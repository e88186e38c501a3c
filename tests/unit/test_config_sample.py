"""etc/svc.conf.sample must be what oslo-config-generator writes today."""

import pathlib

from oslo_config import generator

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_committed_sample_is_current(tmp_path):
    output = tmp_path / "svc.conf.sample"
    conf = generator.cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf(
        [
            "--config-file",
            str(ROOT / "etc" / "oslo-config-generator" / "svc.conf"),
            "--output-file",
            str(output),
        ]
    )
    generator.generate(conf)
    committed = (ROOT / "etc" / "svc.conf.sample").read_text()
    assert output.read_text() == committed, (
        "etc/svc.conf.sample is stale: run 'tox -e genconfig' and commit the result"
    )


def test_every_option_group_is_in_the_sample():
    sample = (ROOT / "etc" / "svc.conf.sample").read_text()
    for group in (
        "[DEFAULT]",
        "[oslo_messaging_rabbit]",
        "[embedded]",
        "[launcher]",
        "[database]",
        "[conductor]",
        "[upgrade_levels]",
    ):
        assert group in sample
