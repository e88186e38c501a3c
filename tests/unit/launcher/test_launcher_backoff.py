from types import SimpleNamespace

from svcframe.launcher._backoff import RespawnBackoff


def _settings(**overrides):
    values = dict(
        respawn_backoff_initial=0.5, respawn_backoff_max=4.0, respawn_backoff_reset_after=60.0
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def test_delay_doubles_up_to_the_maximum():
    backoff = RespawnBackoff(_settings())
    assert [backoff.next_delay(ran_for=1) for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]


def test_a_long_run_starts_the_series_over():
    backoff = RespawnBackoff(_settings())
    backoff.next_delay(ran_for=1)
    backoff.next_delay(ran_for=1)
    assert backoff.next_delay(ran_for=60) == 0.5
    assert backoff.next_delay(ran_for=1) == 1


def test_settings_are_read_at_each_death():
    settings = _settings()
    backoff = RespawnBackoff(settings)
    backoff.next_delay(ran_for=1)
    settings.respawn_backoff_max = 0.7
    assert backoff.next_delay(ran_for=1) == 0.7


def test_many_deaths_do_not_overflow():
    backoff = RespawnBackoff(_settings())
    for _ in range(2000):
        delay = backoff.next_delay(ran_for=0)
    assert delay == 4.0
