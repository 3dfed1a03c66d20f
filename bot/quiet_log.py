"""A log line per kind of refusal, at most once a minute: the first one is logged as it comes,
the rest are counted and summed up in the next line. A flood of forged requests must not flood
the log (it fills disks and hides everything else), and one refused request must not go unseen."""

from __future__ import annotations

import logging
import time
from collections import Counter


class ThrottledLog:
    def __init__(self, logger: logging.Logger, what: str, every_seconds: float = 60.0) -> None:
        self.logger = logger
        self.what = what
        self.every_seconds = every_seconds
        self._counts: Counter[str] = Counter()
        self._logged_at = float("-inf")

    def refused(self, reason: str) -> None:
        self._counts[reason] += 1
        now = time.monotonic()
        if now - self._logged_at < self.every_seconds:
            return
        total = sum(self._counts.values())
        reasons = "; ".join(f"{count:,}x {why}" for why, count in self._counts.most_common())
        if total == 1:
            self.logger.warning("%s refused: %s", self.what, reason)
        else:
            self.logger.warning(
                "%s refused %s requests since the last line: %s", self.what, f"{total:,}", reasons
            )
        self._counts.clear()
        self._logged_at = now
