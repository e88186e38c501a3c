"""What the store answers a caller about a queue's consumers, as they come and go."""

import os
import time

from svcframe.messaging.drivers.embedded import store as store_module


def test_consumers_are_seen_to_come_and_go_between_calls(tmp_path):
    store = store_module.QueueStore(str(tmp_path / "data"))
    store.ensure_dirs()
    store.declare("q")
    assert not store.has_consumer("q")
    marker = store.add_consumer("q")
    assert store.has_consumer("q")
    # Old enough for the answer to be remembered between calls.
    time.sleep(2 * store_module._MTIME_TICK_NS / 1e9)
    assert store.has_consumer("q")
    assert store.has_consumer("q")
    os.unlink(marker)  # the consumer was cancelled
    assert not store.has_consumer("q")
    store.add_consumer("q")
    assert store.has_consumer("q")


def test_a_remembered_consumer_that_died_is_seen_to_be_gone(tmp_path):
    store = store_module.QueueStore(str(tmp_path / "data"))
    store.ensure_dirs()
    store.declare("q")
    folder = os.path.join(store.queue_dir("q"), store_module.CONSUMERS)
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    # A marker of a process that has exited, and one of this process.
    open(os.path.join(folder, f"{pid}.1"), "w").close()
    mine = store.add_consumer("q")
    time.sleep(2 * store_module._MTIME_TICK_NS / 1e9)
    assert store.has_consumer("q")
    os.unlink(mine)
    assert not store.has_consumer("q")
    assert os.listdir(folder) == []  # the dead process's marker was removed
