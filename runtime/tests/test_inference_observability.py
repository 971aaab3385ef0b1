"""Inference observability: obfuscation rules, the background logger (slow and failing sinks), the serving
metrics of the reference bins and classes, and the drift statistics and job."""

import gzip
import json
import time
from types import SimpleNamespace

import pytest

from mlflow_platform.common.object_store import S3Reader
from mlflow_platform.drift import stats
from mlflow_platform.drift.report import compare, read_window, report_markdown
from mlflow_platform.serving.app import Exchange, ModelServer, ServerConfig
from mlflow_platform.serving.inference_log import InferenceLogger, partition_key
from mlflow_platform.serving.obfuscation import Obfuscator, RuleError, keyed_hash, redact_text
from mlflow_platform.serving.observability import Observer, build_reference, log_outcome_counter

from .test_serving import call, fake_loader

KEY = b"k" * 32
RULES = [
    {"field": "customer_id", "kind": "hash"},
    {"field": "customer_email", "kind": "drop"},
    {"field": "account_number", "kind": "mask", "keepLast": 4},
    {"field": "age", "kind": "coarsen", "step": 10},
    {"field": "comment", "kind": "redact"},
]


# ── obfuscation ──
def test_every_rule_kind():
    o = Obfuscator(RULES, KEY)
    out = o.apply(
        {
            "customer_id": "c-42",
            "customer_email": "jane@example.com",
            "account_number": "DE89370400440532013000",
            "age": 37,
            "comment": "mail jane.doe@example.com or call +44 20 7946 0958, card 4111 1111 1111 1111",
            "petal_length": 1.4,
        }
    )
    assert "customer_email" not in out
    assert out["customer_id"] == keyed_hash(KEY, "c-42") and len(out["customer_id"]) == 64
    assert out["account_number"] == "*" * 18 + "3000"
    assert out["age"] == 30
    assert out["comment"] == "mail [email] or call [phone], card [card]"
    assert out["petal_length"] == 1.4


def test_hash_is_equal_for_equal_values_and_differs_with_another_key():
    a, b = Obfuscator(RULES, KEY), Obfuscator(RULES, b"another key")
    assert a.apply({"customer_id": "c-1"}) == a.apply({"customer_id": "c-1"})
    assert a.apply({"customer_id": "c-1"}) != a.apply({"customer_id": "c-2"})
    assert a.apply({"customer_id": "c-1"}) != b.apply({"customer_id": "c-1"})


def test_redaction_leaves_what_is_not_personal():
    assert redact_text("order 12345, 3 items, total 19.99") == "order 12345, 3 items, total 19.99"
    # 16 digits failing the Luhn check: not a card number
    assert "[card]" not in redact_text("ref 4111 1111 1111 1112")


@pytest.mark.parametrize(
    ("rules", "key", "words"),
    [
        ([{"field": "x", "kind": "scramble"}], KEY, "unknown kind 'scramble'"),
        ([{"field": "x", "kind": "hash"}], None, "needs the HMAC key"),
        ([{"field": "x", "kind": "coarsen"}], KEY, "step > 0"),
        ([{"field": "x", "kind": "redact", "patterns": ["iban"]}], KEY, "unknown patterns"),
        ([{"field": "x", "kind": "drop"}, {"field": "x", "kind": "mask"}], KEY, "already has a rule"),
    ],
)
def test_rules_the_server_cannot_apply_are_refused(rules, key, words):
    with pytest.raises(RuleError, match=words):
        Obfuscator(rules, key)


# ── the logger ──
class MemorySink:
    def __init__(self, delay=0.0, fail=False):
        self.objects = {}
        self.delay = delay
        self.fail = fail

    def put(self, key, body):
        time.sleep(self.delay)
        if self.fail:
            raise ConnectionError("sink down")
        self.objects[key] = body

    def records(self):
        return [json.loads(line) for body in self.objects.values() for line in gzip.decompress(body).splitlines()]


def exchange(i=0, caller="app-a", context=None):
    body = {"data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], "context": context or {}}
    answer = {"predictions": [0, 2], "labels": ["setosa", "virginica"]}
    return Exchange(f"r{i}", caller, "/predict", 200, 0.01, json.dumps(body).encode(), json.dumps(answer).encode())


def logger(sink, outcomes, **kw):
    def count(outcome, n):
        outcomes[outcome] = outcomes.get(outcome, 0) + n

    args = {
        "model": "iris",
        "version": "3",
        "prefix": "inference-logs",
        "feature_names": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
        "context_fields": ["customer_id", "customer_email", "comment"],
        "rules": RULES[:2] + RULES[4:],
        "key": KEY,
        "flush_seconds": 0.2,
        "counter": count,
    }
    args.update(kw)
    return InferenceLogger(sink, **args)


def test_records_are_obfuscated_partitioned_and_gzip_json_lines():
    sink, outcomes = MemorySink(), {}
    lg = logger(sink, outcomes)
    lg.start()
    lg(
        exchange(
            context={"customer_id": "c-9", "customer_email": "x@example.com", "comment": "x@example.com", "secret": "s"}
        )
    )
    lg.close()
    (key,) = sink.objects
    assert key.startswith("inference-logs/model=iris/version=3/date=") and "/hour=" in key and key.endswith(".jsonl.gz")
    recs = sink.records()
    assert [r["row"] for r in recs] == [0, 1]
    r = recs[0]
    assert r["inputs"] == {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    assert r["context"] == {"customer_id": keyed_hash(KEY, "c-9"), "comment": "[email]"}  # undeclared "secret" absent
    assert r["prediction"] == 0 and r["label"] == "setosa" and r["caller"] == keyed_hash(KEY, "app-a")
    assert b"x@example.com" not in b"".join(gzip.decompress(b) for b in sink.objects.values())
    assert outcomes == {"written": 1}


def test_sampling():
    sink, outcomes = MemorySink(), {}
    values = iter([0.1, 0.9, 0.2, 0.7])
    lg = logger(sink, outcomes, sampling=0.5, rng=lambda: next(values))
    for i in range(4):
        lg(exchange(i))
    assert outcomes == {"not_sampled": 2} and lg.queue.qsize() == 2


def test_a_slow_sink_never_blocks_the_caller_and_drops_are_counted():
    sink, outcomes = MemorySink(delay=1.0), {}
    lg = logger(sink, outcomes, queue_size=5, batch_records=2)
    lg.start()
    started = time.perf_counter()
    for i in range(200):
        lg(exchange(i))
    took = time.perf_counter() - started
    lg.close(timeout=0.1)
    assert outcomes["dropped_queue_full"] >= 150
    assert took < 0.5  # 200 calls while the sink sleeps a second per write


def test_a_failing_sink_drops_and_counts():
    sink, outcomes = MemorySink(fail=True), {}
    lg = logger(sink, outcomes)
    lg.start()
    for i in range(3):
        lg(exchange(i))
    lg.close()
    assert outcomes == {"dropped_sink_error": 3}


def test_partition_key_is_utc():
    assert partition_key("p", "m", "1", 0.0, "h") == "p/model=m/version=1/date=1970-01-01/hour=00/0-h.jsonl.gz"


# ── metrics: reference bins and classes ──
def test_server_counts_inputs_in_reference_bins_and_predictions_by_class():
    import random

    rng = random.Random(1)
    ref = build_reference({"a": [rng.random() for _ in range(1000)], "b": [rng.gauss(0, 1) for _ in range(1000)]})
    assert abs(sum(ref["features"][0]["fractions"]) - 1) < 1e-6 and len(ref["features"][0]["quantiles"]) == 101
    app = ModelServer(
        ServerConfig("/x", "iris", "3", class_names=("setosa", "versicolor", "virginica")), loader=fake_loader
    )
    app._write = lambda s: None
    app.on_predicted = Observer(
        app.metrics.registry, "iris", "3", ["a", "b"], ref, ("setosa", "versicolor", "virginica")
    )
    app.start_loading().join()
    status, _h, _b = call(app, "POST", "/predict", json.dumps({"data": [[0.01, 0, 0, 0], [0.99, 5, 0, 0]]}).encode())
    assert status == 200
    text = app.metrics.render().decode()
    assert 'model_server_feature_values_total{bin="0",feature="a",model="iris",version="3"} 1.0' in text
    assert 'model_server_feature_values_total{bin="9",feature="a",model="iris",version="3"} 1.0' in text
    assert 'model_server_feature_values_total{bin="9",feature="b",model="iris",version="3"} 1.0' in text
    assert 'model_server_feature_reference_fraction{bin="0",feature="a",model="iris",version="3"} 0.1' in text
    assert 'model_server_predictions_total{class="setosa",model="iris",version="3"} 2.0' in text


def test_log_outcome_counter_exports_every_outcome_at_zero():
    from prometheus_client import CollectorRegistry, generate_latest

    reg = CollectorRegistry()
    count = log_outcome_counter(reg, "m", "1")
    count("dropped_sink_error", 3)
    text = generate_latest(reg).decode()
    assert 'model_server_inference_log_requests_total{model="m",outcome="dropped_sink_error",version="1"} 3.0' in text
    assert 'outcome="written"' in text


# ── drift ──
def test_ks_matches_scipy():
    import math
    import random

    from scipy.stats import ks_2samp, kstwobign

    rng = random.Random(7)
    for shift in (0.0, 0.1, 0.5):
        a = [round(rng.gauss(0, 1), 1) for _ in range(300)]  # ties, as in real data
        b = [round(rng.gauss(shift, 1), 1) for _ in range(101)]
        d, p = stats.ks_2samp(a, b)
        assert d == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)
        # The Kolmogorov limit distribution at sqrt(n*m/(n+m)) * D (scipy's ks_2samp "asymp" uses the
        # finite-n distribution kstwo at round(n*m/(n+m)) instead: close, not equal, at these sizes).
        assert p == pytest.approx(kstwobign.sf(math.sqrt(300 * 101 / 401) * d), rel=1e-9, abs=1e-15)
        assert p == pytest.approx(ks_2samp(a, b, method="asymp").pvalue, rel=0.25, abs=1e-3)


def test_psi_zero_for_same_fractions_and_large_for_a_shift():
    assert stats.psi([0.25] * 4, [0.25] * 4) == 0
    assert stats.psi([0.25] * 4, [0, 0, 0, 1]) > 1


def _reference_like_iris():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    iris = load_iris()
    x_train, *_ = train_test_split(iris.data, iris.target, test_size=0.3, random_state=42, stratify=iris.target)
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return iris.data, names, build_reference({n: x_train[:, j] for j, n in enumerate(names)})


def test_drift_only_in_the_shifted_feature():
    data, names, ref = _reference_like_iris()
    normal = [{"inputs": dict(zip(names, row, strict=True))} for row in data.tolist()]
    shifted = [{"inputs": {**r["inputs"], "petal_length": r["inputs"]["petal_length"] + 3}} for r in normal]
    first = compare(ref, normal, 0.2, 0.01)
    assert [r.drifted for r in first] == [False] * 4, [(r.name, r.psi, r.ks_pvalue) for r in first]
    second = compare(ref, normal + shifted, 0.2, 0.01)
    assert [r.name for r in second if r.drifted] == ["petal_length"], [(r.name, r.psi, r.ks_pvalue) for r in second]
    md = report_markdown(
        {
            "model": "iris",
            "version": "1",
            "start": "s",
            "end": "e",
            "records": 300,
            "psi_threshold": 0.2,
            "p_value": 0.01,
        },
        second,
    )
    assert "| petal_length | 300 |" in md and "**yes**" in md


def test_train_example_reference_equals_the_servers():
    import importlib.util
    import pathlib

    import numpy as np

    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "train.py"
    spec = importlib.util.spec_from_file_location("train_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    x = np.random.default_rng(3).normal(size=(200, 2)).round(1)
    assert mod.feature_reference(x, ["a", "b"]) == build_reference({"a": x[:, 0], "b": x[:, 1]})


def test_read_window_filters_by_partition_and_time():
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="inference-bucket")
        sink = SimpleNamespace(put=lambda key, body: s3.put_object(Bucket="inference-bucket", Key=key, Body=body))
        outcomes = {}
        now = time.time()
        clock = iter([now - 7200, now - 60])
        lg = logger(sink, outcomes, clock=lambda: next(clock))
        lg.start()
        lg(exchange(1))
        lg(exchange(2))
        lg.close()
        got = read_window(S3Reader("inference-bucket", s3), "inference-logs", "iris", "3", now - 3600, now + 1)
        assert [r["request_id"] for r in got] == ["r2", "r2"]


def test_a_hook_that_is_slow_does_not_delay_the_answer(monkeypatch):
    # The logger's __call__ is O(1): the whole request path with logging on stays fast.
    app = ModelServer(ServerConfig("/x", "iris", "3"), loader=fake_loader)
    app._write = lambda s: None
    sink, outcomes = MemorySink(delay=5), {}
    lg = logger(sink, outcomes, queue_size=2)
    lg.start()
    app.hooks.append(lg)
    app.start_loading().join()
    lg(exchange(0))
    time.sleep(0.5)  # the worker is now inside the 5-second write
    started = time.perf_counter()
    for _ in range(20):
        assert call(app, "POST", "/predict", json.dumps({"data": [1, 2, 3, 4]}).encode())[0] == 200
    assert time.perf_counter() - started < 3
    assert outcomes.get("dropped_queue_full", 0) == 18  # 2 fit in the queue
    lg._stop.set()
