"""Gate definitions and metric math (MLflow's MetricThreshold semantics), no registry needed."""

import pytest

from mlflow_platform.common.errors import BadInput
from mlflow_platform.registry.gates import MetricGate, evaluate_metric, parse_gates


def gate(**kw):
    return MetricGate(metric="accuracy", **kw)


@pytest.mark.parametrize(
    ("g", "candidate", "baseline", "passed"),
    [
        (gate(threshold=0.9), 0.9, None, True),  # >= threshold passes at equality
        (gate(threshold=0.9), 0.899, None, False),
        (gate(threshold=0.2, greater_is_better=False), 0.2, None, True),  # lower is better: <=
        (gate(threshold=0.2, greater_is_better=False), 0.21, None, False),
        (
            gate(min_absolute_change=0.05),
            0.96,
            0.9,
            True,
        ),  # candidate >= baseline + 0.05 (floats: exact edges are MLflow's)
        (gate(min_absolute_change=0.05), 0.94, 0.9, False),
        (gate(min_relative_change=0.1), 0.995, 0.9, True),  # >= 0.9 + 10 % of |0.9|
        (gate(min_relative_change=0.1), 0.98, 0.9, False),
        (gate(min_relative_change=0.1, greater_is_better=False), 0.44, 0.5, True),
        (gate(min_relative_change=0.1, greater_is_better=False), 0.46, 0.5, False),
        (gate(not_worse_than_current=True), 0.9, 0.9, True),
        (gate(not_worse_than_current=True), 0.89, 0.9, False),
        (gate(not_worse_than_current=True, greater_is_better=False), 0.3, 0.2, False),
        # No current holder: the relative parts are skipped, the absolute threshold still applies.
        (gate(threshold=0.8, min_absolute_change=0.05), 0.85, None, True),
        (gate(threshold=0.8, not_worse_than_current=True), 0.5, None, False),
    ],
)
def test_metric_gate_math(g, candidate, baseline, passed):
    result = evaluate_metric(g, candidate, baseline, "1" if baseline is not None else None)
    assert result.passed is passed, result.detail


def test_failure_detail_names_values_and_holder():
    r = evaluate_metric(gate(threshold=0.9, not_worse_than_current=True), 0.5, 0.97, "4")
    assert not r.passed
    assert "accuracy=0.5" in r.detail and "v4: 0.97" in r.detail and "worse than the current holder" in r.detail


def test_model_entries_replace_defaults():
    g = parse_gates(
        {
            "defaults": {"production": {"metrics": [{"metric": "accuracy", "threshold": 0.9}]}},
            "models": {"special": {"production": {"requiredTags": {"validation": "passed"}}}},
        }
    )
    assert g.for_model("any", "production").metrics[0].threshold == 0.9
    assert g.for_model("special", "production").metrics == ()
    assert g.for_model("special", "production").required_tags == (("validation", "passed"),)
    assert g.for_model("any", "staging").metrics == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"defaults": {"prod": {}}}, "unknown target 'prod'"),
        ({"defaults": {"production": {"metrics": [{"threshold": 1}]}}}, r"defaults.production.metrics\[0\].metric"),
        ({"defaults": {"production": {"metrics": [{"metric": "a"}]}}}, "sets no threshold"),
        ({"defaults": {"production": {"metrics": [{"metric": "a", "threshold": "high"}]}}}, "must be a number"),
        ({"defaults": {"production": {"metrics": [{"metric": "a", "minAbsoluteChange": 0}]}}}, "must be positive"),
        ({"defaults": {"production": {"metrics": [{"metric": "a", "minRelativeChange": 1.5}]}}}, "between 0 and 1"),
        ({"defaults": {"production": {"approval": {"required": True}}}}, "names no approvers group"),
        ({"models": {"m": {"production": {"requiredTags": ["validation"]}}}}, r"models.m.production.requiredTags"),
    ],
)
def test_bad_gate_definitions_name_the_field(raw, message):
    with pytest.raises(BadInput, match=message):
        parse_gates(raw)
