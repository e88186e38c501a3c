import os
import signal
import threading

from svcframe.launcher._signals import WAKE, SignalManager, blocked, signal_name


def test_signals_arrive_in_order_once_each():
    manager = SignalManager([signal.SIGUSR1, signal.SIGUSR2])
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR2)
        os.kill(os.getpid(), signal.SIGUSR1)
        assert manager.wait(1) == [signal.SIGUSR1, signal.SIGUSR2, signal.SIGUSR1]
        assert manager.wait(0) == []
    finally:
        manager.close()


def test_wait_times_out_without_signal():
    manager = SignalManager([signal.SIGUSR1])
    try:
        assert manager.wait(0.05) == []
    finally:
        manager.close()


def test_wake_from_another_thread_interrupts_wait():
    manager = SignalManager([signal.SIGUSR1])
    try:
        threading.Timer(0.05, manager.wake).start()
        assert manager.wait(5) == [WAKE]
    finally:
        manager.close()


def test_close_restores_previous_handlers():
    def handler(signum, frame):
        pass

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        SignalManager([signal.SIGUSR1]).close()
        assert signal.getsignal(signal.SIGUSR1) is handler
        assert signal.set_wakeup_fd(-1) == -1
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_blocked_signal_is_delivered_when_the_block_ends():
    manager = SignalManager([signal.SIGUSR1])
    try:
        with blocked([signal.SIGUSR1]):
            # The mask is per thread: aim at this one, not at the process.
            signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)
            assert manager.wait(0.05) == []
        assert manager.wait(1) == [signal.SIGUSR1]
    finally:
        manager.close()


def test_signal_name():
    assert signal_name(signal.SIGTERM) == "SIGTERM"
    assert signal_name(200) == "signal 200"
