"""``mlflow-platform drift``: compares the inputs a model version was asked over a window with its training
reference, logs a monitoring run to MLflow and alerts when a feature drifted.

    mlflow-platform drift --model-name iris-classifier --model-version 3 --bucket <artifact bucket> \\
        --prefix inference-logs --window-hours 24 --psi-threshold 0.2 --p-value 0.01

``--bucket`` names an S3 bucket; ``--source`` a store on any cloud (``s3://``, ``gs://``, ``wasbs://``).

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
5. With drift, one message to every configured channel (:mod:`mlflow_platform.notify`: Slack, Discord,
   e-mail), configured by ``MLFLOW_PLATFORM_DRIFT_CHANNELS`` (JSON) with the secrets in the same
   environment variables the events service reads (``MLFLOW_EVENTS_SLACK_URL``...), checked before
   anything is read.

Exit codes (the table in :mod:`mlflow_platform.common.errors`): 0 when the comparison ran (drift or not;
fewer than ``--min-records`` records is reported and not compared), 1 when the reference, the bucket or
MLflow could not be read, 2 for bad arguments or channels.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field

from mlflow_platform import notify
from mlflow_platform.common import object_store
from mlflow_platform.common.command import ArgumentParser, run_command
from mlflow_platform.common.errors import BadInput, CommandError

from .report import FeatureResult, compare, read_window, report_markdown

CHANNELS_ENV = "MLFLOW_PLATFORM_DRIFT_CHANNELS"
#: The channels a drift alert can go to (GitHub's repository_dispatch is for registry events).
ALERT_CHANNELS = ("slack", "discord", "email")


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="mlflow-platform drift", description=__doc__.split("\n")[0])
    p.add_argument("--model-name", required=True)
    p.add_argument("--model-version", required=True)
    store = p.add_mutually_exclusive_group(required=True)
    store.add_argument("--bucket", help="S3 bucket of the inference log.")
    store.add_argument(
        "--source",
        help="Store of the inference log on any cloud: s3://<bucket>, gs://<bucket> or "
        "wasbs://<container>@<account>.blob.core.windows.net.",
    )
    p.add_argument("--prefix", default="inference-logs", help="Key prefix of the inference log.")
    p.add_argument("--window-hours", type=float, default=24.0, help="Length of the window ending at --end.")
    p.add_argument("--end", help="End of the window, ISO 8601 UTC (default: now).")
    p.add_argument("--psi-threshold", type=float, default=0.2)
    p.add_argument("--p-value", type=float, default=0.01, help="KS significance level.")
    p.add_argument("--min-records", type=int, default=50, help="Fewer records in the window: not compared.")
    p.add_argument("--experiment", help="MLflow experiment of the monitoring runs (default monitoring/<model>).")
    return p


def channels(env=os.environ) -> list[notify.Channel]:
    """The alert's channels, from ``MLFLOW_PLATFORM_DRIFT_CHANNELS`` and their secrets; :class:`BadInput`
    names what is wrong."""
    raw = env.get(CHANNELS_ENV, "")
    if not raw:
        return []
    try:
        configured = json.loads(raw)
    except ValueError as e:
        raise BadInput(f"{CHANNELS_ENV} is not JSON: {e}") from None
    if not isinstance(configured, dict):
        raise BadInput(f"{CHANNELS_ENV}: expected a JSON object of channels")
    out = []
    for name, opts in configured.items():
        if name not in ALERT_CHANNELS:
            raise BadInput(f"{CHANNELS_ENV}: unknown channel {name!r}; expected one of {', '.join(ALERT_CHANNELS)}")
        out.append(notify.channel(name, opts, ("model.drift",), env))
    return out


@dataclass(frozen=True)
class DriftAlert:
    """The message (a :class:`mlflow_platform.notify.Message`) of a drifted model version."""

    model: str
    version: str
    run_url: str
    window_end: str
    features: dict[str, float] = field(default_factory=dict)  # feature -> PSI
    kind: str = "model.drift"

    def summary(self) -> str:
        p = notify.plain
        feats = ", ".join(f"{p(name)} (PSI {value:.2f})" for name, value in self.features.items())
        return f"Input drift on {p(self.model)} version {p(self.version)}: {feats}. Report: {p(self.run_url)}"

    def as_dict(self) -> dict:
        return {
            "event": self.kind,
            "model": self.model,
            "version": self.version,
            "features": list(self.features),
            "window_end": self.window_end,
            "run": self.run_url,
        }

    def message_id(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:32]


def alert(targets: list[notify.Channel], ctx: dict, drifted: list[FeatureResult], run_url: str) -> list[str]:
    message = DriftAlert(
        model=ctx["model"],
        version=ctx["version"],
        run_url=run_url,
        window_end=ctx["end"],
        features={r.name: r.psi or 0.0 for r in drifted},
    )
    outcomes = []
    for channel in targets:
        sent, _attempts, error = notify.deliver(channel, message, attempts=3, backoff=1.0)
        outcomes.append(f"{channel.name}: {'sent' if sent else 'failed ' + error}")
    return outcomes


def run(args) -> int:
    if not 0 < args.p_value < 1 or args.psi_threshold <= 0 or args.window_hours <= 0:
        raise BadInput("--p-value must be in (0, 1), --psi-threshold and --window-hours > 0")
    try:
        end = dt.datetime.fromisoformat(args.end).timestamp() if args.end else time.time()
    except ValueError:
        raise BadInput(f"--end {args.end!r}: expected an ISO 8601 time") from None
    source = args.source or f"s3://{args.bucket}"
    try:
        object_store.check_sdk(object_store.parse(source))
    except ValueError as e:
        raise BadInput(f"--{'source' if args.source else 'bucket'}: {e}") from None
    targets = channels()
    start = end - args.window_hours * 3600
    model, version = args.model_name, str(args.model_version)

    import mlflow

    try:
        info = mlflow.models.get_model_info(f"models:/{model}/{version}")
    except Exception as e:
        raise CommandError(f"cannot read models:/{model}/{version}: {type(e).__name__}: {str(e)[:300]}") from e
    reference = (info.metadata or {}).get("feature_reference")
    if not reference or not reference.get("features"):
        raise CommandError(
            f"models:/{model}/{version} has no feature_reference in its MLmodel metadata "
            "(log it with the model: examples/train.py shows how)"
        )
    try:
        records = read_window(object_store.reader_for(source), args.prefix, model, version, start, end)
    except Exception as e:
        where = f"{source.rstrip('/')}/{args.prefix.strip('/')}"
        raise CommandError(f"cannot read {where}: {type(e).__name__}: {str(e)[:300]}") from e
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
    notified = alert(targets, ctx, drifted, run_url) if drifted else []
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


def main(argv: list[str] | None = None) -> int:
    return run_command(parser(), run, sys.argv[1:] if argv is None else argv)
