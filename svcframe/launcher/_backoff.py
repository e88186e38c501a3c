"""Exponential backoff between the respawns of one worker."""

__all__ = ["RespawnBackoff"]


class RespawnBackoff:
    """Delays before respawning a worker that keeps dying.

    The first death waits ``respawn_backoff_initial``, each next one twice as
    long, up to ``respawn_backoff_max``.  A worker that ran for at least
    ``respawn_backoff_reset_after`` seconds starts the series over.  The
    settings are read at every death, so a reload applies them at once.
    """

    def __init__(self, settings):
        self._settings = settings
        self._deaths = 0

    def next_delay(self, ran_for):
        """Seconds to wait before the next start, given how long the last one ran."""
        settings = self._settings
        if ran_for >= settings.respawn_backoff_reset_after:
            self._deaths = 0
        delay = settings.respawn_backoff_initial * 2 ** min(self._deaths, 32)
        self._deaths += 1
        return min(delay, settings.respawn_backoff_max)

    def reset(self):
        self._deaths = 0
