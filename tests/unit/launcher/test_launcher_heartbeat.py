"""How often a worker sends the master a heartbeat."""

import os
import threading
import time

from oslo_config import cfg

from svcframe.conf import service as service_conf
from svcframe.launcher import _channel, _worker


def _conf(**launcher):
    conf = cfg.ConfigOpts()
    conf(args=[], project="svcframe-test", default_config_files=[])
    service_conf.register_opts(conf)
    for name, value in launcher.items():
        conf.set_override(name, value, "launcher")
    return conf


def test_unset_it_is_a_sixth_of_the_hang_timeout_at_most_five_seconds():
    assert _worker.heartbeat_interval(_conf()) == 5.0  # the 30 s default
    assert _worker.heartbeat_interval(_conf(worker_hang_timeout=3)) == 0.5
    assert _worker.heartbeat_interval(_conf(worker_hang_timeout=600)) == 5.0


def test_a_set_interval_is_used_as_is():
    conf = _conf(worker_heartbeat_interval=0.2, worker_hang_timeout=600)
    assert _worker.heartbeat_interval(conf) == 0.2


def test_a_shorter_hang_timeout_takes_effect_before_the_next_long_sleep_ends():
    conf = _conf()
    r, w = os.pipe()
    os.set_blocking(r, False)
    beats = threading.Thread(target=_worker._heartbeat, args=(w, conf), daemon=True)
    beats.start()
    try:
        time.sleep(0.3)
        assert os.read(r, 4096).count(_channel.HEARTBEAT.encode()) == 1  # then 5 s of sleep
        # A reload that lowers the hang timeout wakes the thread.
        conf.set_override("worker_hang_timeout", 0.6, "launcher")
        _worker._beat_now.set()
        time.sleep(0.5)
        assert os.read(r, 4096).count(_channel.HEARTBEAT.encode()) >= 4
    finally:
        os.close(w)  # the thread's next send fails: it ends
        beats.join(timeout=2)
        os.close(r)
