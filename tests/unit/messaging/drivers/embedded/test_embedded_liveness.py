"""How the embedded store tells a running process from one that exited or whose pid was reused."""

import os

import pytest

from svcframe.messaging.drivers.embedded import store as store_module


@pytest.fixture(autouse=True)
def fresh_confirmations(monkeypatch):
    monkeypatch.setattr(store_module, "_confirmed", {})


@pytest.fixture
def proc_reads(monkeypatch):
    reads = []
    real = store_module._start_time

    def counted(pid="self"):
        reads.append(pid)
        return real(pid)

    monkeypatch.setattr(store_module, "_start_time", counted)
    return reads


def test_a_running_process_is_confirmed_once_a_second(proc_reads, monkeypatch):
    me = (os.getpid(), store_module._start_time())
    proc_reads.clear()
    clock = [1000.0]
    monkeypatch.setattr(store_module.time, "monotonic", lambda: clock[0])
    assert not store_module._gone(me)
    assert not store_module._gone(me)
    clock[0] += 0.9
    assert not store_module._gone(me)
    assert len(proc_reads) == 1
    clock[0] += 0.2
    assert not store_module._gone(me)
    assert len(proc_reads) == 2


def test_a_reused_pid_is_gone_even_while_its_new_process_is_confirmed():
    pid = os.getpid()
    start = store_module._start_time()
    assert not store_module._gone((pid, start))
    assert store_module._gone((pid, start - 1))  # the pid's earlier process
    assert not store_module._gone((pid, start))


def test_an_exited_process_is_gone_at_once_even_if_just_confirmed():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)  # runs until the parent closes its end
        os._exit(0)
    os.close(r)
    child = (pid, store_module._start_time(pid))
    assert not store_module._gone(child)
    os.close(w)
    os.waitpid(pid, 0)
    assert store_module._gone(child)
    assert child not in store_module._confirmed
