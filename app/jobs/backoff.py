"""How long a failed job waits before its next attempt: exponential, capped, jittered."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """`initial_s` before the first retry, multiplied by `factor` per attempt up to `max_s`. The wait is drawn
    from the upper half of that, so jobs that failed together (an outage) do not all come back together."""

    initial_s: float = 5.0
    max_s: float = 900.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if self.initial_s < 0 or self.max_s < self.initial_s or self.factor < 1:
            raise ValueError("backoff needs 0 <= initial_s <= max_s and factor >= 1")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait after failed attempt number `attempt` (1 = the first run)."""
        ceiling = min(self.max_s, self.initial_s * self.factor ** max(0, attempt - 1))
        return ceiling / 2 + (rng or random).random() * ceiling / 2
