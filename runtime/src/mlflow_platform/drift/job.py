"""``mlflow-platform drift``: compares the inputs a model version was asked over a window with its training
reference, logs a monitoring run to MLflow and alerts when a feature drifted.

    mlflow-platform drift --model-name iris-classifier --model-version 3 --bucket <artifact bucket> \\
        --prefix inference-logs --window-hours 24 --psi-threshold 0.2 --p-value 0.01

1. The reference: the ``feature_reference`` the model was logged with (MLmodel metadata, read with
   ``mlflow.models.get_model_info``): per feature, bin edges, training fractions and 101 quantiles.
2. The window: every inference-log object under ``<prefix>/model=<m>/version=<v>/date=<d>/`` for the
   dates the window touches, records whose ``ts`` is in [end - window, end). Features a rule dropped or
   hashed are not numbers any more and are reported as not comparable.
3. Per feature: PSI over the reference bins (effect size) and the two-sample Kolmogorov-Smirnov test
   against the reference quantiles (significance, asymptotic p-value). A feature **drifted** when its PSI
   is at least ``--psi-threshold`` *and* the KS p-value is below ``--p-value``: with many records KS alone
   flags differences too small to matter, with few records PSI alone is noise.
4. A run in the experiment ``--experiment`` (default ``monitoring/<model>``): params (model, version,
   window, thresholds), metrics ``psi.<feature>``, ``ks_statistic.<feature>``, ``ks_pvalue.<feature>``,
   ``records``, ``drifted_features``; tags ``mlflow-platform.monitoring=drift`` and ``drift=true|false``;
   artifacts ``drift-report.md`` (readable) and ``drift-report.json``.
5. With drift, one message to every configured channel (the events service's notifiers: Slack, Discord,
   e-mail), configured by ``MLFLOW_PLATFORM_DRIFT_CHANNELS`` (JSON) with the secrets in the same
   environment variables the events service reads (``MLFLOW_EVENTS_SLACK_URL``...).

Exit 0 when the comparison ran (drift or not; fewer than ``--min-records`` records is reported and not
compared), 1 when the reference, the bucket or MLflow could not be read, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from .stats import bin_fractions, ks_2samp, psi

CHANNELS_ENV = "MLFLOW_PLATFORM_DRIFT_CHANNELS"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlflow-platform drift", description=__doc__.split("\n")[0])
    p.add_argument("--model-name", required=True)
    p.add_argument("--model-version", required=True)
    p.add_argument("--bucket", required=True, help="Bucket of the inference log.")
    p.add_argument("--prefix", default="inference-logs", help="Key prefix of the inference log.")
    p.add_argument("--window-hours", type=float, default=24.0, help="Length of the window ending at --end.")
    p.add_argument("--end", help="End of the window, ISO 8601 UTC (default: now).")
    p.add_argument("--psi-threshold", type=float, default=0.2)
    p.add_argument("--p-value", type=float, default=0.01, help="KS significance level.")
    p.add_argument("--min-records", type=int, default=50, help="Fewer records in the window: not compared.")
    p.add_argument("--experiment", help="MLflow experiment of the monitoring runs (default monitoring/<model>).")
    return p


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


def read_window(
    client: Any, bucket: str, prefix: str, model: str, version: str, start: float, end: float
) -> list[dict]:
    """The records of the window (client: boto3 S3)."""
    records: list[dict] = []
    day = dt.datetime.fromtimestamp(start, dt.UTC).date()
    last = dt.datetime.fromtimestamp(end, dt.UTC).date()
    base = f"{prefix.strip('/')}/model={model}/version={version}"
    while day <= last:
        token = None
        while True:
            kw: dict[str, Any] = {"Bucket": bucket, "Prefix": f"{base}/date={day.isoformat()}/"}
            if token:
                kw["ContinuationToken"] = token
            page = client.list_objects_v2(**kw)
            for obj in page.get("Contents", []):
                body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                for line in gzip.decompress(body).splitlines():
                    if not line.strip():
                        continue
                    r = json.loads(line)
                    if start <= float(r.get("ts", 0)) < end:
                        records.append(r)
            if not page.get("IsTruncated"):
                break
            token = page.get("NextContinuationToken")
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


def _channels() -> list:
    raw = os.environ.get(CHANNELS_ENV, "")
    if not raw:
        return []
    from mlflow_platform.events.settings import SECRET_ENV, Channel

    out = []
    for name, opts in json.loads(raw).items():
        if name not in ("slack", "discord", "email"):
            raise SystemExit(f"drift: {CHANNELS_ENV}: unknown channel {name!r}; expected slack, discord or email")
        secret_env = SECRET_ENV["smtp" if name == "email" else name]
        secret = os.environ.get(secret_env) or None
        if name != "email" and not secret:
            raise SystemExit(f"drift: channel {name} is configured but {secret_env} is empty (check its Secret)")
        out.append(Channel(name=name, events=("model.drift",), options=dict(opts), secret=secret))
    return out


def alert(ctx: dict, drifted: list[FeatureResult], run_url: str) -> list[str]:
    from mlflow_platform.events.model import Event
    from mlflow_platform.events.notifiers import deliver

    class DriftEvent(Event):
        def summary(self) -> str:
            feats = ", ".join(f"{r.name} (PSI {r.psi:.2f})" for r in drifted)
            return f"Input drift on {self.model} version {self.version}: {feats}. Report: {run_url}"

    event = DriftEvent(
        kind="model.drift",
        model=ctx["model"],
        version=ctx["version"],
        detail={"features": [r.name for r in drifted], "window_end": ctx["end"], "run": run_url},
    )
    outcomes = []
    for channel in _channels():
        sent, _attempts, error = deliver(channel, event, attempts=3, backoff=1.0)
        outcomes.append(f"{channel.name}: {'sent' if sent else 'failed ' + error}")
    return outcomes


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if not 0 < args.p_value < 1 or args.psi_threshold <= 0 or args.window_hours <= 0:
        print("drift: --p-value must be in (0, 1), --psi-threshold and --window-hours > 0", file=sys.stderr)
        return 2
    end = dt.datetime.fromisoformat(args.end).timestamp() if args.end else time.time()
    start = end - args.window_hours * 3600
    model, version = args.model_name, str(args.model_version)

    import boto3
    import mlflow

    try:
        info = mlflow.models.get_model_info(f"models:/{model}/{version}")
    except Exception as e:  # noqa: BLE001 - report and exit 1, the CronJob's failure is the signal
        print(f"drift: cannot read models:/{model}/{version}: {type(e).__name__}: {str(e)[:300]}", file=sys.stderr)
        return 1
    reference = (info.metadata or {}).get("feature_reference")
    if not reference or not reference.get("features"):
        print(
            f"drift: models:/{model}/{version} has no feature_reference in its MLmodel metadata "
            "(log it with the model: examples/train.py shows how)",
            file=sys.stderr,
        )
        return 1
    try:
        records = read_window(boto3.client("s3"), args.bucket, args.prefix, model, version, start, end)
    except Exception as e:  # noqa: BLE001
        print(
            f"drift: cannot read s3://{args.bucket}/{args.prefix}: {type(e).__name__}: {str(e)[:300]}", file=sys.stderr
        )
        return 1
    iso = lambda t: dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    ctx = {
        "model": model,
        "version": version,
        "start": iso(start),
        "end": iso(end),
        "records": len(records),
        "psi_threshold": args.psi_threshold,
        "p_value": args.p_value,
        "min_records": args.min_records,
        "insufficient": len(records) < args.min_records,
    }
    results = [] if ctx["insufficient"] else compare(reference, records, args.psi_threshold, args.p_value)
    drifted = [r for r in results if r.drifted]
    report = report_markdown(ctx, results)

    mlflow.set_experiment(args.experiment or f"monitoring/{model}")
    with mlflow.start_run(run_name=f"drift {model} v{version} {ctx['end']}") as run:
        mlflow.set_tags(
            {
                "mlflow-platform.monitoring": "drift",
                "model": model,
                "model_version": version,
                "drift": str(bool(drifted)).lower(),
            }
        )
        mlflow.log_params(
            {
                "model": model,
                "version": version,
                "window_start": ctx["start"],
                "window_end": ctx["end"],
                "psi_threshold": args.psi_threshold,
                "p_value": args.p_value,
            }
        )
        metrics: dict[str, float] = {"records": len(records), "drifted_features": len(drifted)}
        for r in results:
            if r.psi is not None:
                metrics[f"psi.{r.name}"] = r.psi
                metrics[f"ks_statistic.{r.name}"] = r.ks_statistic or 0.0
                metrics[f"ks_pvalue.{r.name}"] = r.ks_pvalue if r.ks_pvalue is not None else 1.0
        mlflow.log_metrics(metrics)
        mlflow.log_text(report, "drift-report.md")
        mlflow.log_dict({**ctx, "features": [r.__dict__ for r in results]}, "drift-report.json")
        run_id = run.info.run_id
        experiment_id = run.info.experiment_id
    tracking = mlflow.get_tracking_uri().rstrip("/")
    run_url = f"{tracking}/#/experiments/{experiment_id}/runs/{run_id}"
    notified = alert(ctx, drifted, run_url) if drifted else []
    summary = {
        **ctx,
        "run_id": run_id,
        "drifted": [r.name for r in drifted],
        "psi": {r.name: r.psi for r in results},
        "ks_pvalue": {r.name: r.ks_pvalue for r in results},
        "notified": notified,
    }
    print(json.dumps(summary))
    return 0
