"""A state store outage, said once: one ERROR line when Redis stops answering (and a reminder
every `REMIND_EVERY` seconds while it lasts), one INFO line when it answers again; the wait
between attempts grows as redis-py's `ExponentialBackoff` computes it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.backoff import ExponentialBackoff

log = logging.getLogger(__name__)

REMIND_EVERY = 600.0


class StoreOutage:
    """Failed attempts since the store last answered, logged per outage.

    Example:
        >>> outage = StoreOutage("redis://h:6379/0", clock=lambda: 0.0)
        >>> [outage.failed(ConnectionRefusedError("refused")) for _ in range(3)]   # seconds to wait
        [0.1, 0.2, 0.4]
        >>> outage.failures, outage.logged, outage.down
        (3, 1, True)
        >>> outage.ok(); outage.down
        False
    """

    def __init__(self, where: str, *, clock: Callable[[], float] = time.monotonic, cap: float = 5.0) -> None:
        self.where = where
        self.failures = 0
        self.logged = 0
        self._clock = clock
        self._since = 0.0
        self._logged_at = float("-inf")
        self._backoff = ExponentialBackoff(cap=cap, base=0.05)

    @property
    def down(self) -> bool:
        return self.failures > 0

    def failed(self, error: BaseException) -> float:
        """One more failed attempt; the seconds to wait before the next one."""
        now = self._clock()
        if not self.failures:
            self._since = now
        self.failures += 1
        if self.failures == 1 or now - self._logged_at >= REMIND_EVERY:
            self._logged_at = now
            self.logged += 1
            still = "" if self.failures == 1 else f" (still, for {now - self._since:.0f} s)"
            log.error("cannot reach the state store %s%s: %s; readings are not acknowledged (the broker keeps "
                      "them), not ready; retrying with backoff", self.where, still, error)
        return self._backoff.compute(self.failures)

    def ok(self) -> None:
        """The store answered: the outage, if any, is over."""
        if self.failures:
            log.info("the state store %s answers again after %d failed attempt%s (%.1f s)", self.where,
                     self.failures, "" if self.failures == 1 else "s", self._clock() - self._since)
        self.failures = 0
        self._logged_at = float("-inf")
