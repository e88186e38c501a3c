import os
import signal
import threading

import pytest
from oslo_config import cfg

from svcframe.launcher import (
    EXIT_BOOT_ERROR,
    EXIT_FAILURE,
    EXIT_SUCCESS,
    ProcessLauncher,
    ServiceBase,
    ServiceLauncher,
    launch,
    running_config,
)
from svcframe.launcher._proctitle import program_name


class Recorder(ServiceBase):
    """Records calls; sends itself the given signals once started."""

    def __init__(self, signals=(), fail_on=None):
        self.calls = []
        self.signals = list(signals)
        self.fail_on = fail_on
        self.stopped = threading.Event()

    def _call(self, name):
        self.calls.append(name)
        if name == self.fail_on:
            raise RuntimeError(f"{name} failed")

    def _send(self, signals):
        for signum in signals:
            os.kill(os.getpid(), signum)
            threading.Event().wait(0.05)

    def start(self):
        self._call("start")
        self.running_config = running_config()
        signals, self.signals = self.signals, []
        threading.Thread(target=self._send, args=(signals,), daemon=True).start()

    def stop(self):
        self._call("stop")
        self.stopped.set()

    def wait(self):
        self.stopped.wait(5)
        self._call("wait")

    def reset(self):
        self._call("reset")


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    conf([])
    return conf


def test_service_base_is_abstract():
    with pytest.raises(TypeError):
        ServiceBase()


def test_launch_picks_the_launcher_for_the_worker_count(conf):
    assert isinstance(launch(conf, Recorder()), ServiceLauncher)
    assert isinstance(launch(conf, Recorder(), workers=3), ProcessLauncher)
    conf.set_override("workers", 2, group="launcher")
    assert isinstance(launch(conf, Recorder(), workers=None), ProcessLauncher)


@pytest.mark.parametrize("workers", [0, -1, 2.5, "4"])
def test_launch_refuses_bad_worker_counts(conf, workers):
    with pytest.raises(ValueError, match="'workers' must be an int >= 1"):
        launch(conf, Recorder(), workers=workers)


def test_launch_refuses_an_unknown_restart_method(conf):
    with pytest.raises(ValueError, match="restart_method"):
        launch(conf, Recorder(), restart_method="restart")


def test_a_launcher_runs_one_service(conf):
    launcher = launch(conf, Recorder(), workers=2)
    with pytest.raises(RuntimeError, match="one service"):
        launcher.launch_service(Recorder(), workers=2)


def test_program_name():
    class Named:
        binary = "conductor"

    assert program_name(Named()) == "svc-conductor"
    assert program_name(Named(), name="nova-conductor") == "nova-conductor"
    assert program_name(object(), name="api") == "svc-api"


# ServiceLauncher runs in this process: real signals, sent to ourselves.


def test_single_sighup_resets_and_sigterm_stops(conf):
    service = Recorder(signals=[signal.SIGHUP, signal.SIGTERM])
    assert launch(conf, service).wait() == EXIT_SUCCESS
    assert service.calls == ["start", "reset", "stop", "wait"]
    # Generation 0 while it ran; the service keeps no configuration of its own.
    assert service.running_config["config_generation"] == 0
    assert len(service.running_config["config_digest"]) == 8
    assert running_config()["config_generation"] is None


def test_single_start_failure_is_a_boot_error(conf):
    service = Recorder(fail_on="start")
    assert launch(conf, service).wait() == EXIT_BOOT_ERROR
    assert service.calls == ["start"]


def test_single_reset_failure_stops_with_failure(conf):
    service = Recorder(signals=[signal.SIGHUP], fail_on="reset")
    assert launch(conf, service).wait() == EXIT_FAILURE
    assert service.calls == ["start", "reset", "stop", "wait"]


def test_single_reload_method_restarts_in_place(conf):
    service = Recorder(signals=[signal.SIGHUP, signal.SIGTERM])
    assert launch(conf, service, restart_method="reload").wait() == EXIT_SUCCESS
    assert service.calls == ["start", "stop", "wait", "reset", "start", "stop", "wait"]
