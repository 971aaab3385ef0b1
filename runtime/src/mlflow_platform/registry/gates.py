"""Promotion gates: their definitions (rendered from the platform's configuration, `registry.gates`)
and their evaluation.

The definitions are a JSON document (``node dist/scripts/registry-gates.js <env>`` prints it)::

    {"targets": ["staging", "production"],
     "defaults": {"production": {<gate set>}, "staging": {...}},
     "models": {"<registered model>": {"production": {<gate set>}}}}

A gate set (every field present; the renderer fills in the defaults)::

    {"metrics": [{"metric": "accuracy", "threshold": 0.9, "greaterIsBetter": true,
                  "minAbsoluteChange": null, "minRelativeChange": null, "notWorseThanCurrent": true}],
     "requiredTags": {"validation": "passed"},      # value "*" = any value
     "requireSignature": true, "requireInputExample": true,
     "approval": {"required": true, "groups": ["ml-approvers"]}}

Metric thresholds have the semantics of MLflow's ``MetricThreshold`` and are evaluated by MLflow's own
``mlflow.validate_evaluation_results`` (threshold; min_absolute_change and min_relative_change against
the version that holds the target alias now). ``notWorseThanCurrent`` adds "at least as good as the
current holder", which MetricThreshold cannot say (its changes must be positive).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any

from mlflow_platform.common.errors import BadInput

GATES_ENV = "MLFLOW_PLATFORM_REGISTRY_GATES"
TARGETS = ("staging", "production")
TARGET_STAGES = {"staging": "Staging", "production": "Production"}


@dataclass(frozen=True)
class MetricGate:
    metric: str
    threshold: float | None = None
    greater_is_better: bool = True
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    not_worse_than_current: bool = False

    @property
    def relative(self) -> bool:
        return (
            self.min_absolute_change is not None or self.min_relative_change is not None or self.not_worse_than_current
        )


@dataclass(frozen=True)
class GateSet:
    metrics: tuple[MetricGate, ...] = ()
    required_tags: tuple[tuple[str, str], ...] = ()
    require_signature: bool = False
    require_input_example: bool = False
    approval_required: bool = False
    approval_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed: bool
    detail: str
    skipped: bool = False

    def as_record(self) -> dict:
        return {
            "gate": self.gate,
            "result": "skip" if self.skipped else "pass" if self.passed else "fail",
            "detail": self.detail,
        }


def _num(where: str, v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise BadInput(f"gates: {where} must be a number, got {json.dumps(v)}")
    return float(v)


def _bool(where: str, v: Any, default: bool = False) -> bool:
    if v is None:
        return default
    if not isinstance(v, bool):
        raise BadInput(f"gates: {where} must be true or false, got {json.dumps(v)}")
    return v


def parse_gate_set(where: str, raw: Any) -> GateSet:
    if not isinstance(raw, dict):
        raise BadInput(f"gates: {where} must be an object")
    metrics = []
    for i, m in enumerate(raw.get("metrics") or []):
        w = f"{where}.metrics[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("metric"), str) or not m["metric"]:
            raise BadInput(f"gates: {w}.metric must name a metric the run logs")
        gate = MetricGate(
            metric=m["metric"],
            threshold=_num(f"{w}.threshold", m.get("threshold")),
            greater_is_better=_bool(f"{w}.greaterIsBetter", m.get("greaterIsBetter"), True),
            min_absolute_change=_num(f"{w}.minAbsoluteChange", m.get("minAbsoluteChange")),
            min_relative_change=_num(f"{w}.minRelativeChange", m.get("minRelativeChange")),
            not_worse_than_current=_bool(f"{w}.notWorseThanCurrent", m.get("notWorseThanCurrent")),
        )
        if gate.threshold is None and not gate.relative:
            raise BadInput(
                f"gates: {w} ({gate.metric}) sets no threshold, minAbsoluteChange, minRelativeChange "
                "or notWorseThanCurrent"
            )
        if gate.min_absolute_change is not None and gate.min_absolute_change <= 0:
            raise BadInput(
                f"gates: {w}.minAbsoluteChange must be positive (MetricThreshold); "
                "use notWorseThanCurrent for 'no worse'"
            )
        if gate.min_relative_change is not None and not 0 < gate.min_relative_change < 1:
            raise BadInput(f"gates: {w}.minRelativeChange must be between 0 and 1 (MetricThreshold)")
        metrics.append(gate)
    tags = raw.get("requiredTags") or {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise BadInput(f'gates: {where}.requiredTags must map tag names to values ("*" = any value)')
    approval = raw.get("approval") or {}
    if not isinstance(approval, dict):
        raise BadInput(f"gates: {where}.approval must be an object")
    groups = approval.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise BadInput(f"gates: {where}.approval.groups must be a list of group names")
    required = _bool(f"{where}.approval.required", approval.get("required"))
    if required and not groups:
        raise BadInput(f"gates: {where}.approval.required is true but approval.groups names no approvers group")
    return GateSet(
        metrics=tuple(metrics),
        required_tags=tuple(sorted(tags.items())),
        require_signature=_bool(f"{where}.requireSignature", raw.get("requireSignature")),
        require_input_example=_bool(f"{where}.requireInputExample", raw.get("requireInputExample")),
        approval_required=required,
        approval_groups=tuple(groups),
    )


@dataclass(frozen=True)
class Gates:
    """Every model's gate sets: per-model entries, else the defaults."""

    defaults: dict[str, GateSet]
    models: dict[str, dict[str, GateSet]]

    def for_model(self, model: str, target: str) -> GateSet:
        check_target(target)
        per_model = self.models.get(model, {})
        if target in per_model:
            return per_model[target]
        return self.defaults.get(target, GateSet())


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise BadInput(f"unknown target {target!r}: expected one of {', '.join(TARGETS)}")
    return target


def parse_gates(raw: Any, source: str = "gates") -> Gates:
    if not isinstance(raw, dict):
        raise BadInput(f"{source}: expected a JSON object with 'defaults' and 'models'")
    defaults_raw = raw.get("defaults") or {}
    models_raw = raw.get("models") or {}
    if not isinstance(defaults_raw, dict) or not isinstance(models_raw, dict):
        raise BadInput(f"{source}: 'defaults' and 'models' must be objects")
    for t in defaults_raw:
        check_target(t)
    defaults = {t: parse_gate_set(f"defaults.{t}", v) for t, v in defaults_raw.items()}
    models = {}
    for name, per in models_raw.items():
        if not isinstance(per, dict):
            raise BadInput(f"{source}: models.{name} must be an object of targets")
        for t in per:
            check_target(t)
        models[name] = {t: parse_gate_set(f"models.{name}.{t}", v) for t, v in per.items()}
    return Gates(defaults=defaults, models=models)


def load_gates(path: str | None = None) -> Gates:
    """Gates from ``path``, else from the file named by $MLFLOW_PLATFORM_REGISTRY_GATES."""
    path = path or os.environ.get(GATES_ENV)
    if not path:
        raise BadInput(
            f"no gate definitions: pass --gates FILE or set {GATES_ENV} "
            "(render them with `node dist/scripts/registry-gates.js <env>`)"
        )
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except OSError as err:
        raise BadInput(f"gates file {path}: {err.strerror}") from err
    except ValueError as err:
        raise BadInput(f"gates file {path} is not JSON: {err}") from err
    return parse_gates(raw, f"gates file {path}")


def evaluate_metric(
    gate: MetricGate, candidate: float, baseline: float | None, baseline_version: str | None
) -> GateResult:
    """One metric gate, with MLflow's own validation for threshold and min changes."""
    from mlflow.exceptions import MlflowException
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation import EvaluationResult
    from mlflow.models.evaluation.validation import ModelValidationFailedException, validate_evaluation_results

    name = f"metric:{gate.metric}"
    notes = []
    with_baseline = baseline is not None
    threshold = (
        MetricThreshold(
            threshold=gate.threshold,
            min_absolute_change=gate.min_absolute_change if with_baseline else None,
            min_relative_change=gate.min_relative_change if with_baseline else None,
            greater_is_better=gate.greater_is_better,
        )
        if (gate.threshold is not None or (with_baseline and (gate.min_absolute_change or gate.min_relative_change)))
        else None
    )
    failed = []
    if threshold is not None:
        try:
            validate_evaluation_results(
                {gate.metric: threshold},
                EvaluationResult({gate.metric: candidate}, {}),
                EvaluationResult({gate.metric: baseline}, {}) if with_baseline else None,
            )
        except ModelValidationFailedException as err:
            failed.append(str(err).strip().replace("\n", " "))
        except MlflowException as err:  # an invalid MetricThreshold
            raise BadInput(f"gates: metric {gate.metric}: {err.message}") from err
    if gate.not_worse_than_current and with_baseline:
        ok = candidate >= baseline if gate.greater_is_better else candidate <= baseline
        if not ok:
            failed.append(
                f"{gate.metric}={candidate:g} is worse than the current holder's "
                f"(version {baseline_version}) {baseline:g}"
            )
    if gate.relative and not with_baseline:
        notes.append("no current holder: checks relative to it skipped")
    rule = []
    if gate.threshold is not None:
        rule.append(f"{'>=' if gate.greater_is_better else '<='} {gate.threshold:g}")
    if gate.min_absolute_change is not None:
        rule.append(f"{'+' if gate.greater_is_better else '-'}{gate.min_absolute_change:g} vs current")
    if gate.min_relative_change is not None:
        rule.append(f"{'+' if gate.greater_is_better else '-'}{gate.min_relative_change:.0%} vs current")
    if gate.not_worse_than_current:
        rule.append("not worse than current")
    base = f"{gate.metric}={candidate:g}" + (
        f" (current holder v{baseline_version}: {baseline:g})" if with_baseline else ""
    )
    detail = f"{base}; rule {', '.join(rule)}" + (f"; {'; '.join(notes)}" if notes else "")
    if failed:
        detail += f"; failed: {' | '.join(failed)}"
    return GateResult(name, not failed, detail)
