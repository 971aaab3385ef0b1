"""Property-based tests (Hypothesis) of the model path's trust boundaries: how many examples each
property was tried on is printed at the end of the run (``npm test`` output)."""

from __future__ import annotations

import collections

from hypothesis import HealthCheck, settings

#: Examples tried, per property.
FIGURES: collections.Counter = collections.Counter()

#: Every property here: no example database (a run leaves no files and depends on nothing it did
#: before), no deadline (a loaded 2-core machine must not turn slowness into a failure).
PROPERTY = settings(max_examples=300, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tried(name: str) -> None:
    FIGURES[name] += 1


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    failed = [r for r in terminalreporter.stats.get("failed", []) if "/properties/" in r.nodeid.replace("\\", "/")]
    terminalreporter.write_sep("-", "property-based tests (Hypothesis): examples tried per property")
    for name, n in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{name}: {n} examples")
    terminalreporter.write_line(
        f"properties: {len(FIGURES)}, examples: {sum(FIGURES.values())}, failing properties: {len(failed)}"
    )
