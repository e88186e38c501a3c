"""Where the embedded transport's queues live when data_dir is unset."""

import errno
import os
import pwd

import pytest
from oslo_config import cfg

from svcframe import statedir
from svcframe.conf import register_messaging_opts
from svcframe.messaging.drivers.embedded import location, store


def _conf(**overrides):
    conf = cfg.ConfigOpts()
    conf(args=[], project="svcframe-test", default_config_files=[])
    register_messaging_opts(conf)
    for name, value in overrides.items():
        group, _, opt = name.rpartition("__")
        conf.set_override(opt, value, group or None)
    return conf


def test_the_default_is_in_memory_one_directory_per_state_path(tmp_path):
    if not os.path.isdir(location.MEMORY_ROOT):
        pytest.skip("no /dev/shm")
    first = location.default_data_dir(str(tmp_path / "a"))
    assert os.path.dirname(first) == f"{location.MEMORY_ROOT}/svcframe-{os.geteuid()}"
    assert first != location.default_data_dir(str(tmp_path / "b"))
    # The same state_path however it is spelled: processes must agree.
    os.symlink(tmp_path, tmp_path / "link")
    for spelling in (tmp_path / "a", f"{tmp_path}/a/", tmp_path / "link" / "a"):
        assert location.default_data_dir(str(spelling)) == first


def test_without_a_memory_filesystem_the_queues_go_under_state_path(tmp_path):
    missing = str(tmp_path / "no-shm")
    assert location.default_data_dir(str(tmp_path), missing) == str(tmp_path / "messaging")


def test_a_small_memory_filesystem_is_not_used(tmp_path, monkeypatch):
    # A container's 64 MB /dev/shm would fill with a backlog a disk takes.
    monkeypatch.setattr(location, "MIN_MEMORY_BYTES", 1 << 62)
    assert location.default_data_dir(str(tmp_path)) == str(tmp_path / "messaging")


def test_a_configured_data_dir_wins(tmp_path):
    conf = _conf(state_path=str(tmp_path), embedded__data_dir="~/queues")
    assert location.configured_data_dir(conf) == os.path.expanduser("~/queues")
    conf = _conf(state_path=str(tmp_path))
    assert location.configured_data_dir(conf) == location.default_data_dir(str(tmp_path))


def test_the_per_user_directory_in_memory_is_checked_too(tmp_path):
    root = str(tmp_path)
    data_dir = os.path.join(root, "svcframe-0", "key")
    assert location.private_dirs(data_dir, root) == [os.path.dirname(data_dir), data_dir]
    # Elsewhere the parent is the user's own choice, as with state_path.
    assert location.private_dirs("/srv/queues", root) == ["/srv/queues"]


def test_another_users_directory_in_memory_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory to another user")
    nobody = pwd.getpwnam("nobody").pw_uid
    planted = tmp_path / "svcframe-0"
    planted.mkdir(mode=0o700)
    os.chown(planted, nobody, -1)
    with pytest.raises(statedir.UnsafeStateDirectory, match=f"owned by uid {nobody}"):
        for directory in location.private_dirs(str(planted / "key"), str(tmp_path)):
            statedir.ensure_private_dir(directory)
    assert not (planted / "key").exists()


def test_a_full_memory_filesystem_says_how_to_take_a_larger_backlog():
    full = OSError(errno.ENOSPC, "No space left on device")
    in_memory = store.QueueStore(location.MEMORY_ROOT + "/svcframe-0/key")._full(full)
    assert "No space left on device" in str(in_memory)
    assert "set [embedded] data_dir to a directory on disk" in str(in_memory)
    on_disk = store.QueueStore("/var/lib/svcframe/messaging")._full(full)
    assert "data_dir" not in str(on_disk)
