"""Many callers sharing one client: the load of the reply-wait tests of every transport."""

import random
import threading
import time

__all__ = ["Echo", "join_callers", "start_callers"]


class Echo:
    """Returns its value, after ``delay`` seconds: replies then come back out of order."""

    def echo(self, ctxt, value, delay=0.0):
        if delay:
            time.sleep(delay)
        return value


def start_callers(client, callers, delays, stop=None, calls=None):
    """Threads calling ``echo``; ``outcomes`` gets True per right result, else the error's repr.

    Each thread makes ``calls`` calls, or calls until ``stop`` is set.
    """
    outcomes = []

    def caller(i):
        rnd = random.Random(i)
        n = 0
        while (calls is None or n < calls) and not (stop is not None and stop.is_set()):
            value = f"{i}-{n}"
            try:
                got = client.call({}, "echo", value=value, delay=rnd.choice(delays))
                outcomes.append(got == value)
            except Exception as exc:  # noqa: BLE001 - counted by the test
                outcomes.append(repr(exc))
            n += 1

    threads = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(callers)]
    for thread in threads:
        thread.start()
    return threads, outcomes


def join_callers(threads):
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a caller hung"
