"""Serving metrics beyond traffic: predictions by class or value range, inputs per feature in the bins of
the training reference, the reference's own fractions, and the inference log's outcomes.

The training reference travels with the model, in its MLmodel file's ``metadata`` (examples/train.py
writes it with :func:`build_reference`): for each feature, the inner bin edges (deciles of the training
values), the training fraction in each bin and 101 quantiles (the drift job's KS test uses them).
Bin ``i`` holds ``edges[i-1] <= x < edges[i]``; the first and last bins are open-ended, so every value has a
bin. The population stability index over a window is then a PromQL expression over two series:

    model_server_feature_values_total{model,version,feature,bin}        (counter, every bin pre-created at 0)
    model_server_feature_reference_fraction{model,version,feature,bin}  (gauge, constant)
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("mlflow_platform.serving")

REFERENCE_KEY = "feature_reference"
REFERENCE_FORMAT = 1


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    n = len(sorted_values)
    pos = q * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def build_reference(
    columns: dict[str, Sequence[float]], bins: int = 10, predictions: Sequence[Any] | None = None
) -> dict:
    """The training reference of ``columns`` (feature name -> training values): what the model logs."""
    features = []
    for name, values in columns.items():
        v = sorted(float(x) for x in values)
        if not v:
            raise ValueError(f"feature {name} has no values")
        edges = sorted({round(_quantile(v, i / bins), 10) for i in range(1, bins)})
        counts = [0] * (len(edges) + 1)
        for x in v:
            counts[bisect.bisect_right(edges, x)] += 1
        features.append(
            {
                "name": name,
                "edges": edges,
                "fractions": [round(c / len(v), 6) for c in counts],
                "quantiles": [round(_quantile(v, i / 100), 10) for i in range(101)],
                "count": len(v),
            }
        )
    ref: dict[str, Any] = {"format": REFERENCE_FORMAT, "features": features}
    if predictions is not None:
        counts: dict[str, int] = {}
        for p in predictions:
            counts[str(p)] = counts.get(str(p), 0) + 1
        ref["predictions"] = {k: round(c / len(predictions), 6) for k, c in sorted(counts.items())}
    return ref


def reference_of(pyfunc: Any) -> dict | None:
    """The reference a model was logged with (MLmodel ``metadata.feature_reference``), or None."""
    meta = getattr(getattr(pyfunc, "metadata", None), "metadata", None) or {}
    ref = meta.get(REFERENCE_KEY)
    return ref if isinstance(ref, dict) and ref.get("features") else None


class Observer:
    """Counts the rows of ``/predict`` into the reference bins and the predictions into classes.

    Called in the prediction thread with rows the server already checked (numbers, right length): a
    bisect and a counter increment per feature, children created once.
    """

    def __init__(
        self,
        registry: Any,
        model: str,
        version: str,
        feature_names: list[str],
        reference: dict | None,
        class_names: Sequence[str],
    ) -> None:
        from prometheus_client import Counter, Gauge

        self._classes = list(class_names)
        self.predictions = Counter(
            "model_server_predictions",
            "Predictions (rows), by class: the label when class names are configured, else the class index or "
            "string; 'value' for non-integer numbers (regressors).",
            ("model", "version", "class"),
            registry=registry,
        )
        self._prediction_children: dict[str, Any] = {}
        self._model, self._version = model, version
        self.bins: list[tuple[list[float], list[Any]]] = []
        if reference is None:
            return
        ref_features = reference["features"]
        names = [f["name"] for f in ref_features]
        if feature_names and names != list(feature_names):
            log.warning(
                "the model's reference names features %s, the configuration %s: inputs are binned by position",
                names,
                list(feature_names),
            )
        values = Counter(
            "model_server_feature_values",
            "Input values per feature in the bins of the training reference (bin i: edges[i-1] <= x < edges[i]).",
            ("model", "version", "feature", "bin"),
            registry=registry,
        )
        fraction = Gauge(
            "model_server_feature_reference_fraction",
            "Fraction of the training data in each bin of each feature (constant; the PSI rules compare with it).",
            ("model", "version", "feature", "bin"),
            registry=registry,
        )
        for i, f in enumerate(ref_features):
            name = feature_names[i] if i < len(feature_names) else f["name"]
            children = []
            for b, frac in enumerate(f["fractions"]):
                children.append(values.labels(model, version, name, str(b)))
                fraction.labels(model, version, name, str(b)).set(frac)
            self.bins.append((list(f["edges"]), children))

    def __call__(self, rows: list[list[float]], predictions: list[Any]) -> None:
        for i, (edges, children) in enumerate(self.bins):
            for row in rows:
                if i < len(row):
                    children[bisect.bisect_right(edges, row[i])].inc()
        for p in predictions:
            key = self._class_of(p)
            child = self._prediction_children.get(key)
            if child is None:
                if len(self._prediction_children) >= 100:
                    key = "other"  # bounded cardinality, whatever a model answers
                    child = self._prediction_children.get(key)
                if child is None:
                    child = self._prediction_children[key] = self.predictions.labels(self._model, self._version, key)
            child.inc()

    def _class_of(self, p: Any) -> str:
        if isinstance(p, bool):
            return str(p).lower()
        if isinstance(p, int) or (isinstance(p, float) and p.is_integer() and self._classes):
            idx = int(p)
            return self._classes[idx] if 0 <= idx < len(self._classes) else str(idx)
        if isinstance(p, str):
            return p[:64]
        if isinstance(p, float):
            return "value"
        return "other"


def log_outcome_counter(registry: Any, model: str, version: str):
    """``model_server_inference_log_requests_total{outcome}``: what happened to each request's log records."""
    from prometheus_client import Counter

    c = Counter(
        "model_server_inference_log_requests",
        "Requests by what happened to their inference log records: written, not_sampled, dropped_queue_full "
        "(the sink is slow or down), dropped_sink_error (a write failed), dropped_invalid, skipped_unparsed.",
        ("model", "version", "outcome"),
        registry=registry,
    )
    children = {
        o: c.labels(model, version, o)
        for o in (
            "written",
            "not_sampled",
            "dropped_queue_full",
            "dropped_sink_error",
            "dropped_invalid",
            "skipped_unparsed",
        )
    }

    def count(outcome: str, n: int) -> None:
        children[outcome].inc(n)

    return count


def add_arguments(p: Any, env: Any) -> None:
    """The flags of ``mlflow-platform serve`` for observability (each also ``MODEL_SERVER_<FLAG>``)."""
    p.add_argument(
        "--feature-names",
        default=env("feature-names", ""),
        help="Comma-separated names of the model's input features, in order (serving.models.<m>.inputFields).",
    )
    p.add_argument(
        "--inference-log-bucket",
        default=env("inference-log-bucket", ""),
        help="S3 bucket of the inference log; empty: no input/output logging (unless --inference-log-destination).",
    )
    p.add_argument(
        "--inference-log-destination",
        default=env("inference-log-destination", ""),
        help="Store of the inference log on any cloud, instead of --inference-log-bucket: s3://<bucket>, "
        "gs://<bucket> or wasbs://<container>@<account>.blob.core.windows.net.",
    )
    p.add_argument("--inference-log-prefix", default=env("inference-log-prefix", "inference-logs"))
    p.add_argument(
        "--inference-log-sampling",
        type=float,
        default=float(env("inference-log-sampling", 1.0)),
        help="Share of successful prediction requests logged, 0 to 1.",
    )
    p.add_argument(
        "--inference-log-rules",
        default=env("inference-log-rules", "[]"),
        help='Obfuscation rules as JSON: [{"field": "email", "kind": "drop"}, ...] (see serving/obfuscation.py).',
    )
    p.add_argument(
        "--inference-log-context-fields",
        default=env("inference-log-context-fields", ""),
        help='Comma-separated request fields beside the features ({"data": ..., "context": {...}}) that are logged.',
    )
    p.add_argument("--inference-log-batch", type=int, default=int(env("inference-log-batch", 1000)))
    p.add_argument("--inference-log-flush-seconds", type=float, default=float(env("inference-log-flush-seconds", 10)))
    p.add_argument("--inference-log-queue", type=int, default=int(env("inference-log-queue", 10000)))


def install(app: Any, args: Any) -> Any:
    """Wires metrics and (with a bucket or destination) the inference logger into ``app``; returns the logger
    or None.

    The HMAC key of hash rules comes from ``MODEL_SERVER_INFERENCE_LOG_KEY`` (a Secret), never a flag.
    A configuration the server cannot apply (unknown rule, hash without key) raises at start.
    """
    import json
    import os

    from .inference_log import KEY_ENV, InferenceLogger, S3Sink, sink_for

    features = [f.strip() for f in args.feature_names.split(",") if f.strip()]
    cfg = app.config
    previous = app.on_loaded

    def loaded() -> None:
        if app.model is not None:
            app.on_predicted = Observer(
                app.metrics.registry,
                cfg.model_name,
                cfg.model_version,
                features,
                reference_of(app.model.pyfunc),
                cfg.class_names,
            )
        if previous:
            previous()

    app.on_loaded = loaded
    bucket, destination = args.inference_log_bucket, getattr(args, "inference_log_destination", "")
    if bucket and destination:
        raise ValueError("--inference-log-bucket and --inference-log-destination: give one")
    if not bucket and not destination:
        return None
    try:
        sink = sink_for(destination) if destination else S3Sink(bucket)
    except ValueError as e:
        raise ValueError(f"--inference-log-destination {e}") from None
    key = os.environ.get(KEY_ENV, "").encode() or None
    logger = InferenceLogger(
        sink,
        model=cfg.model_name,
        version=cfg.model_version,
        prefix=args.inference_log_prefix,
        feature_names=features,
        context_fields=[f.strip() for f in args.inference_log_context_fields.split(",") if f.strip()],
        rules=json.loads(args.inference_log_rules),
        key=key,
        sampling=args.inference_log_sampling,
        queue_size=args.inference_log_queue,
        batch_records=args.inference_log_batch,
        flush_seconds=args.inference_log_flush_seconds,
        counter=log_outcome_counter(app.metrics.registry, cfg.model_name, cfg.model_version),
    )
    app.hooks.append(logger)
    logger.start()
    return logger
