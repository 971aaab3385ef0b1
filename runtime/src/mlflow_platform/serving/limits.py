"""Admission control of the model server: a per-caller token bucket (keyed on the authenticated identity)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict


class CallerLimiter:
    """A token bucket per caller: ``rate`` requests per second on average, bursts of up to ``burst``.

    At most ``max_callers`` buckets are kept (least recently seen dropped first), so a flood of distinct
    identities cannot grow the memory of the pod. A dropped caller starts again with a full bucket,
    which is the conservative direction only for that caller, never for others.
    """

    def __init__(self, rate: float, burst: int, max_callers: int = 10_000, clock=time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("caller rate must be > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self.max_callers = max_callers
        self._clock = clock
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def take(self, caller: str) -> float:
        """Takes one token for ``caller``: 0.0 when admitted, else the seconds until a token is back."""
        now = self._clock()
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = [self.burst, now]
            self._buckets[caller] = bucket
            if len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(caller)
            tokens = bucket[0] + (now - bucket[1]) * self.rate
            bucket[0] = tokens if tokens < self.burst else self.burst
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / self.rate


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
