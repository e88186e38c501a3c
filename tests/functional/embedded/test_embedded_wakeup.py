"""The inotify wakeup tells a consumer which files arrived, so it need not list its queue."""

import os

import pytest

from svcframe.messaging.drivers.embedded import wakeup as wakeup_module
from svcframe.messaging.drivers.embedded.wakeup import DirectoryGone

pytestmark = pytest.mark.skipif(wakeup_module.inotify_simple is None, reason="needs inotify")


@pytest.fixture
def wakeup():
    w = wakeup_module._InotifyWakeup()
    yield w
    w.close()


def test_the_names_of_arrived_files_come_with_the_wakeup(wakeup, tmp_path):
    queue = tmp_path / "q"
    queue.mkdir()
    (queue / "before.msg").write_bytes(b"{}")
    wakeup.watch("q", str(queue))
    # What arrived before the watch is unknown: look at the whole directory.
    assert wakeup.take_changed("q") is True
    assert wakeup.take_changed("q") is False
    (tmp_path / "tmp").write_bytes(b"{}")
    os.rename(tmp_path / "tmp", queue / "renamed.msg")
    os.link(queue / "renamed.msg", queue / "linked.msg")
    assert wakeup.wait(5.0) is False
    assert wakeup.take_changed("q") == ["renamed.msg", "linked.msg"]
    assert wakeup.take_changed("q") is False


def test_a_removed_queue_directory_is_reported_until_the_connection_goes(wakeup, tmp_path):
    queue = tmp_path / "q"
    queue.mkdir()
    wakeup.watch("q", str(queue))
    wakeup.take_changed("q")
    queue.rmdir()
    wakeup.wait(5.0)
    # Whoever reads it next (a caller, or the consuming thread) learns of it.
    for _ in range(2):
        with pytest.raises(DirectoryGone):
            wakeup.take_changed("q")


def test_events_lost_to_an_overflow_make_the_consumer_look_at_the_whole_queue(wakeup, tmp_path):
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        limit = int(f.read())
    if limit > 100_000:
        pytest.skip(f"fs.inotify.max_queued_events is {limit}")
    queue = tmp_path / "q"
    queue.mkdir()
    wakeup.watch("q", str(queue))
    wakeup.take_changed("q")
    source = tmp_path / "m"
    source.write_bytes(b"{}")
    for n in range(limit + 10):
        os.link(source, queue / f"{n:08d}.msg")
    seen = []
    while True:
        wakeup.wait(0)
        changed = wakeup.take_changed("q")
        if changed is True or not changed:
            break
        seen += changed
    # The names read before the overflow, then: look at the directory.
    assert changed is True, f"{len(seen)} names and no overflow"
