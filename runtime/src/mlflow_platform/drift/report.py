"""The drift comparison: the window's records (the inference log in S3, Cloud Storage or Azure Blob),
per-feature PSI and KS test against the model's training reference, and the readable report. The job that
runs it: :mod:`.cli`."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from dataclasses import dataclass, field
from typing import Any

from mlflow_platform.serving.inference_log import partition_prefix

from .stats import bin_fractions, ks_2samp, psi


@dataclass
class FeatureResult:
    name: str
    values: int
    psi: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    drifted: bool = False
    window_fractions: list[float] = field(default_factory=list)
    reference_fractions: list[float] = field(default_factory=list)
    note: str = ""


def read_window(store: Any, prefix: str, model: str, version: str, start: float, end: float) -> list[dict]:
    """The records of the window. ``store`` lists keys under a prefix and reads an object's bytes: an
    S3, Cloud Storage or Azure Blob reader of :mod:`mlflow_platform.common.object_store`."""
    records: list[dict] = []
    day = dt.datetime.fromtimestamp(start, dt.UTC).date()
    last = dt.datetime.fromtimestamp(end, dt.UTC).date()
    base = partition_prefix(prefix, model, version)
    while day <= last:
        for key in store.keys(f"{base}/date={day.isoformat()}/"):
            for line in gzip.decompress(store.read(key)).splitlines():
                if not line.strip():
                    continue
                r = json.loads(line)
                if start <= float(r.get("ts", 0)) < end:
                    records.append(r)
        day += dt.timedelta(days=1)
    return records


def compare(reference: dict, records: list[dict], psi_threshold: float, p_value: float) -> list[FeatureResult]:
    out = []
    for f in reference["features"]:
        name = f["name"]
        values = []
        for r in records:
            v = (r.get("inputs") or {}).get(name)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                values.append(float(v))
        res = FeatureResult(name=name, values=len(values), reference_fractions=list(f["fractions"]))
        if not values:
            res.note = "not in the log as numbers (dropped or hashed by a rule, or no records)"
            out.append(res)
            continue
        res.window_fractions = bin_fractions(f["edges"], values)
        res.psi = psi(f["fractions"], res.window_fractions)
        res.ks_statistic, res.ks_pvalue = ks_2samp(values, f["quantiles"])
        res.drifted = res.psi >= psi_threshold and res.ks_pvalue < p_value
        out.append(res)
    return out


def report_markdown(ctx: dict, results: list[FeatureResult]) -> str:
    lines = [
        f"# Drift report: {ctx['model']} version {ctx['version']}",
        "",
        f"Window {ctx['start']} to {ctx['end']} (UTC), {ctx['records']} logged rows. Drift: PSI >= "
        f"{ctx['psi_threshold']} and KS p-value < {ctx['p_value']}.",
        "",
        "| feature | rows | PSI | KS D | KS p-value | drifted |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.psi is None:
            lines.append(f"| {r.name} | {r.values} | - | - | - | {r.note} |")
        else:
            lines.append(
                f"| {r.name} | {r.values} | {r.psi:.4f} | {r.ks_statistic:.4f} | {r.ks_pvalue:.3g} | "
                f"{'**yes**' if r.drifted else 'no'} |"
            )
    lines += ["", "Bins (training fraction -> window fraction):", ""]
    for r in results:
        if r.window_fractions:
            pairs = ", ".join(
                f"{a:.2f}->{b:.2f}" for a, b in zip(r.reference_fractions, r.window_fractions, strict=True)
            )
            lines.append(f"- {r.name}: {pairs}")
    if ctx.get("insufficient"):
        lines += ["", f"Not compared: fewer than {ctx['min_records']} rows in the window."]
    return "\n".join(lines) + "\n"
