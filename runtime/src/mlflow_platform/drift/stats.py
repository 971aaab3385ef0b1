"""Drift statistics in the standard library only (the runtime image carries no numpy or scipy):

- the population stability index over the reference's bins;
- the two-sample Kolmogorov-Smirnov statistic (as ``scipy.stats.ks_2samp``) with the p-value of the
  Kolmogorov limit distribution at ``sqrt(n*m/(n+m)) * D`` (``scipy.stats.kstwobign.sf``); the tests in
  runtime/tests/test_inference_observability.py check both against scipy.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

#: Fractions below this count as this much in PSI (an empty bin would otherwise make it infinite).
EPSILON = 1e-4


def bin_fractions(edges: Sequence[float], values: Sequence[float]) -> list[float]:
    """Fraction of ``values`` in each bin (bin i: edges[i-1] <= x < edges[i], ends open)."""
    counts = [0] * (len(edges) + 1)
    for x in values:
        counts[bisect.bisect_right(edges, x)] += 1
    n = len(values)
    return [c / n for c in counts] if n else [0.0] * len(counts)


def psi(reference: Sequence[float], window: Sequence[float], eps: float = EPSILON) -> float:
    """Population stability index: sum over bins of (w - r) * ln(w / r), both floored at ``eps``."""
    total = 0.0
    for r, w in zip(reference, window, strict=True):
        r, w = max(r, eps), max(w, eps)
        total += (w - r) * math.log(w / r)
    return total


def kolmogorov_sf(x: float) -> float:
    """P(K > x) of the Kolmogorov distribution (scipy's ``kstwobign.sf``)."""
    if x <= 0:
        return 1.0
    if x < 0.2:
        return 1.0  # the series converges slowly here; the probability is 1 to double precision
    total = 0.0
    for k in range(1, 101):
        term = math.exp(-2.0 * k * k * x * x)
        total += term if k % 2 else -term
        if term < 1e-17:
            break
    return min(1.0, max(0.0, 2.0 * total))


def ks_2samp(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(D, asymptotic two-sided p-value) of two samples; ties handled as in scipy."""
    x, y = sorted(a), sorted(b)
    n, m = len(x), len(y)
    if not n or not m:
        raise ValueError("both samples need values")
    d = 0.0
    for v in sorted(set(x) | set(y)):
        cdf_x = bisect.bisect_right(x, v) / n
        cdf_y = bisect.bisect_right(y, v) / m
        d = max(d, abs(cdf_x - cdf_y))
    en = n * m / (n + m)
    return d, kolmogorov_sf(math.sqrt(en) * d)
