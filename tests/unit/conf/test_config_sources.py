"""Relative paths in a config file are relative to that file; the default file search."""

import os

import pytest
from oslo_config import cfg

from svcframe.cmd import config_errors
from svcframe.conf import database, messaging, sources
from svcframe.messaging.drivers.embedded import location


def parse(tmp_path, text, argv=()):
    conf = cfg.ConfigOpts()
    messaging.register_opts(conf)
    database.register_opts(conf)
    conf.register_cli_opt(cfg.StrOpt("log-file"))
    (tmp_path / "etc").mkdir(exist_ok=True)
    path = tmp_path / "etc" / "svc.conf"
    path.write_text(text)
    conf([*argv, "--config-file", str(path)], project="test", default_config_files=[])
    sources.anchor_relative_paths(conf)
    return conf


def test_a_relative_state_path_is_relative_to_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    conf = parse(tmp_path, "[DEFAULT]\nstate_path = ./state\n")
    assert conf.state_path == str(tmp_path / "etc" / "state")
    # Defaults derived from it follow.
    assert location.configured_data_dir(conf) == location.default_data_dir(
        str(tmp_path / "etc" / "state")
    )
    assert conf.embedded.data_dir is None


def test_other_path_options_too(tmp_path):
    conf = parse(
        tmp_path,
        "[DEFAULT]\nstate_path = /srv/state\nlog_file = ../log/svc.log\n"
        "[embedded]\ndata_dir = queues\n"
        "[database]\nconnection = sqlite:///registry/services.sqlite\n",
    )
    assert conf.state_path == "/srv/state"
    assert conf.log_file == str(tmp_path / "log" / "svc.log")
    assert conf.embedded.data_dir == str(tmp_path / "etc" / "queues")
    assert conf.database.connection == f"sqlite:///{tmp_path}/etc/registry/services.sqlite"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:////abs/services.sqlite",
        "postgresql://svc:secret@db/test",
    ],
)
def test_urls_without_a_relative_file_are_kept(tmp_path, url):
    conf = parse(tmp_path, f"[database]\nconnection = {url}\n")
    assert conf.database.connection == url


def test_a_path_from_the_command_line_stays_relative_to_the_current_directory(tmp_path):
    conf = parse(tmp_path, "[DEFAULT]\n", argv=["--log-file", "here.log"])
    assert conf.log_file == "here.log"


def test_the_default_search_is_svcframe_conf_in_the_documented_places(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert sources.search_dirs()[:2] == [str(tmp_path / ".svcframe"), str(tmp_path)]
    assert sources.search_dirs()[2:] == ["/etc/svcframe", "/etc"]
    (tmp_path / "svcframe.conf").write_text("")
    (tmp_path / ".svcframe").mkdir()
    assert sources.default_config_files() == [str(tmp_path / "svcframe.conf")]
    (tmp_path / ".svcframe" / "svcframe.conf").write_text("")
    # The first directory that has one; both tools' program names read the same file.
    assert sources.default_config_files() == [str(tmp_path / ".svcframe" / "svcframe.conf")]


def test_describe_files_says_what_was_searched_when_nothing_was_read(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    conf = cfg.ConfigOpts()
    conf([], project="test", default_config_files=[], default_config_dirs=[])
    text = sources.describe_files(conf)
    assert text.startswith("none (no --config-file, and none of ")
    assert os.path.join(str(tmp_path), ".svcframe", "svcframe.conf") in text


def test_an_invalid_value_is_one_line_without_location_info(tmp_path):
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.IntOpt("report_interval"))
    path = tmp_path / "svc.conf"
    path.write_text("[DEFAULT]\nreport_interval = abc\n")
    conf(["--config-file", str(path)], project="test", default_config_files=[])
    with pytest.raises(cfg.ConfigFileValueError) as info:
        conf.report_interval  # noqa: B018 - the value is checked when read
    assert config_errors.describe(info.value) == (
        f"invalid value for option report_interval in {path}: "
        "invalid literal for int() with base 10: 'abc'"
    )


def test_svc_manage_anchors_every_path_option_of_the_state_directory(tmp_path):
    from svcframe.cmd.manage import load_config

    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "svc.conf"
    path.write_text("[DEFAULT]\nstate_path = state\n[embedded]\ndata_dir = queues\n")
    conf = load_config([str(path)], [])
    assert conf.state_path == str(tmp_path / "etc" / "state")
    assert conf.embedded.data_dir == str(tmp_path / "etc" / "queues")


def test_default_state_path_keeps_its_old_name_for_one_release():
    from svcframe.conf import paths

    with pytest.deprecated_call(match="svcframe.conf.paths.default_state_path"):
        from svcframe.conf.messaging import default_state_path
    assert default_state_path is paths.default_state_path
