"""PerProcessThread: one thread per process, started again in a forked child."""

import os
import threading

from svcframe._per_process import PerProcessThread


def test_one_thread_per_process_and_a_new_one_after_fork():
    started = []
    release = threading.Event()

    def target():
        started.append(os.getpid())
        release.wait(5)

    thread = PerProcessThread(target, "test-per-process")
    assert not thread.running_here()
    assert thread.ensure() is True
    assert thread.ensure() is False
    assert thread.running_here()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its parent's thread did not come along
        ok = not thread.running_here() and thread.ensure() and not thread.ensure()
        os.write(write_end, b"1" if ok else b"0")
        os._exit(0)
    os.close(write_end)
    assert os.read(read_end, 1) == b"1"
    os.waitpid(pid, 0)
    release.set()
    assert started[0] == os.getpid()
    assert [t.name for t in threading.enumerate()].count("test-per-process") <= 1
