import logging

import pytest
from oslo_config import cfg

from svcframe.conf import register_messaging_opts
from svcframe.conf import service as service_opts
from svcframe.launcher import _config


@pytest.fixture
def conf(tmp_path):
    conf = cfg.ConfigOpts()
    service_opts.register_opts(conf)
    conf.register_opts(
        [cfg.StrOpt("color", default="red", mutable=True), cfg.StrOpt("flavor", default="plain")],
        group="example",
    )
    path = tmp_path / "svc.conf"
    path.write_text("[example]\ncolor = red\n")
    conf(["--config-file", str(path)])
    conf.path = path
    return conf


def test_nothing_changed(conf):
    changes = _config.reload(conf)
    assert not changes
    assert changes.mutable == changes.immutable == []


def test_changes_are_split_by_mutability(conf):
    conf.path.write_text(
        "[DEFAULT]\ngraceful_shutdown_timeout = 5\nhost = elsewhere\n"
        "[example]\ncolor = blue\nflavor = salty\n"
    )
    changes = _config.reload(conf)
    assert changes.mutable == [(None, "graceful_shutdown_timeout"), ("example", "color")]
    assert changes.immutable == [(None, "host"), ("example", "flavor")]
    assert changes.describe(changes.immutable) == "[DEFAULT] host, [example] flavor"
    assert conf.example.flavor == "salty"


def test_unreadable_files_keep_the_current_values(conf):
    conf.path.unlink()
    with pytest.raises(_config.ReloadFailed, match="Failed to find some config files: .*svc.conf"):
        _config.reload(conf)
    assert conf.example.color == "red"


def test_an_invalid_value_is_not_reloaded(conf):
    conf.path.write_text("[DEFAULT]\ngraceful_shutdown_timeout = -1\n[example]\ncolor = blue\n")
    with pytest.raises(
        _config.ReloadFailed,
        match=r"^invalid value of \[DEFAULT\] graceful_shutdown_timeout: Should be greater",
    ):
        _config.reload(conf)
    assert conf.example.color == "red"
    assert conf.graceful_shutdown_timeout == 60


def test_a_thread_pool_size_no_worker_could_start_with_is_not_reloaded(conf):
    # Defined as oslo.messaging defines it, without a lower bound.
    register_messaging_opts(conf)
    conf.path.write_text("[DEFAULT]\nexecutor_thread_pool_size = 0\n[example]\ncolor = blue\n")
    with pytest.raises(
        _config.ReloadFailed,
        match=r"^invalid value of \[DEFAULT\] executor_thread_pool_size: "
        r"Should be greater than or equal to 1$",
    ):
        _config.reload(conf)
    assert (conf.executor_thread_pool_size, conf.example.color) == (64, "red")


def test_mutate_applies_mutable_options_and_names_the_others(conf, caplog):
    conf.path.write_text("[example]\ncolor = blue\nflavor = salty\n")
    changes = _config.mutate(conf)
    assert changes.mutable == [("example", "color")]
    assert changes.immutable == [("example", "flavor")]
    assert (conf.example.color, conf.example.flavor) == ("blue", "plain")
    # Said once, by the caller, rather than a line per option.
    assert not [r for r in caplog.records if r.name == "oslo_config.cfg"]


def test_mutate_keeps_the_current_values_when_the_files_do_not_parse(conf):
    conf.path.write_text("[example\ncolor = blue\n")
    with pytest.raises(_config.ReloadFailed, match="Failed to parse"):
        _config.mutate(conf)
    assert conf.example.color == "red"


def test_digest_follows_the_values_not_the_secrets(tmp_path):
    def digest(text):
        conf = cfg.ConfigOpts()
        conf.register_opts(
            [
                cfg.StrOpt("color", default="red"),
                cfg.StrOpt("password", secret=True),
                cfg.StrOpt("url"),
            ]
        )
        path = tmp_path / "digest.conf"
        path.write_text("[DEFAULT]\n" + text)
        conf(["--config-file", str(path)])
        return _config.digest(conf, _config.option_keys(conf))

    base = digest("url = rabbit://user:one@host1:5672/\npassword = one\n")
    assert len(base) == 8 and int(base, 16) >= 0
    assert digest("url = rabbit://user:one@host1:5672/\npassword = one\n") == base
    assert digest("url = rabbit://user:two@host1:5672/\npassword = two\n") == base
    assert digest("url = rabbit://user:one@host2:5672/\npassword = one\n") != base
    assert digest("url = rabbit://user:one@host1:5672/\npassword = one\ncolor = blue\n") != base


def test_restart_method_is_checked():
    _config.check_restart_method("mutate")
    _config.check_restart_method("reload")
    with pytest.raises(ValueError, match="'mutate' or 'reload', not: 'restart'"):
        _config.check_restart_method("restart")


def test_log_options_follows_the_option(conf, caplog):
    caplog.set_level(logging.DEBUG, logger="svcframe.launcher")
    _config.log_options(conf)
    assert any("graceful_shutdown_timeout" in r.getMessage() for r in caplog.records)
    caplog.clear()
    conf.set_override("log_options", False)
    _config.log_options(conf)
    assert caplog.records == []


def test_list_opts_covers_both_groups():
    groups = {(group.name if group else None): opts for group, opts in service_opts.list_opts()}
    assert {opt.name for opt in groups[None]} >= {
        "graceful_shutdown_timeout",
        "host",
        "periodic_enable",
        "periodic_fuzzy_delay",
        "periodic_interval_max",
        "log_options",
    }
    assert {opt.name for opt in groups["launcher"]} == {
        "workers",
        "worker_heartbeat_interval",
        "worker_hang_timeout",
        "respawn_backoff_initial",
        "respawn_backoff_max",
        "respawn_backoff_reset_after",
        "boot_failure_limit",
    }
