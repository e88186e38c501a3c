"""How a master follows the configuration its workers run, without forking."""

import logging
import os

import pytest
from oslo_config import cfg

from svcframe.launcher import _generation
from svcframe.launcher._master import ProcessLauncher, _Worker


@pytest.fixture
def master():
    conf = cfg.ConfigOpts()
    conf([])
    launcher = ProcessLauncher(conf)
    launcher._generation = 2
    launcher._roll_generation = 1
    launcher._digest = "5f1c9a0e"
    launcher._workers = {}
    return launcher


def _worker(master, started_in, pid=100):
    worker = _Worker(1, pid, None, started_in)
    worker.ready = True
    worker.reset_pending = True
    master._workers[pid] = worker
    return worker


def test_a_worker_that_applied_the_latest_configuration_is_done(master, caplog):
    caplog.set_level(logging.INFO, logger="svcframe.launcher")
    worker = _worker(master, started_in=1)
    master._on_reset(worker, "2 2 5f1c9a0e")
    assert (worker.generation, worker.reset_pending, worker.outdated) == (2, False, False)
    assert master._reload_done()
    assert [r.getMessage() for r in caplog.records] == [
        "Worker 1 (pid 100) applied the new configuration"
    ]


def test_an_answer_to_an_older_sighup_waits_for_the_next(master):
    worker = _worker(master, started_in=1)
    master._on_reset(worker, "1 1 00000000")
    assert (worker.generation, worker.reset_pending, worker.outdated) == (1, True, False)
    assert not master._reload_done()


@pytest.mark.parametrize(
    "text", ["2 1 00000000", "2 2 00000000"], ids=["could not apply", "other files"]
)
def test_a_worker_on_another_configuration_is_replaced(master, caplog, text):
    worker = _worker(master, started_in=1)
    master._on_reset(worker, text)
    assert worker.outdated and master._needs_replacing(worker)
    assert not master._reload_done()
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert line.startswith("Worker 1 (pid 100) runs configuration ")
    assert line.endswith(", not 2 (5f1c9a0e): replacing it")


def test_a_worker_the_rolling_restart_replaces_is_not_blamed(master, caplog):
    worker = _worker(master, started_in=0)
    master._on_reset(worker, "2 2 00000000")
    assert not worker.outdated and master._needs_replacing(worker)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_board_is_shared_with_forked_children():
    board = _generation.Board()
    try:
        board.publish(3, 1, 2)
        pid = os.fork()
        if pid == 0:
            board.publish(4, 2, 2)
            os._exit(0)
        os.waitpid(pid, 0)
        assert board.read() == (4, 2, 2)
    finally:
        board.close()
