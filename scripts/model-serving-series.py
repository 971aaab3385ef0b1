#!/usr/bin/env python3
"""Writes test/monitoring/fixtures/model-serving-series.json: the drift series of the real model server.

Trains the example's iris model (examples/train.py's features and training reference), saves it with
MLflow, starts the real server (`mlflow-platform serve`) on it, sends a batch like the training data (the
150 iris rows) and a shifted batch (the same rows, petal length + 3 cm) through POST /predict, and keeps
what /metrics answered after each: the reference-bin counters and the reference fractions. The promtool
test of the PSI rules and drift alerts (test/monitoring/model-serving.test.ts) replays these series.

    $MLFLOW_PLATFORM_TOOLS/venv/bin/python scripts/model-serving-series.py   # (~/.cache/mlflow-platform-e2e by default)
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "test" / "monitoring" / "fixtures" / "model-serving-series.json"
MODEL, VERSION = "iris-classifier", "1"
SERIES = re.compile(
    r"^(model_server_feature_values_total|model_server_feature_reference_fraction)\{([^}]*)\} (\S+)$"
)


def main() -> int:
    spec = importlib.util.spec_from_file_location(
        "train_example", ROOT / "examples" / "train.py"
    )
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    iris = load_iris()
    # The example's split (test_size 0.3, seed 42, stratified): the reference is its training rows.
    x_train, _x_test, y_train, _y_test = train_test_split(
        iris.data, iris.target, test_size=0.3, random_state=42, stratify=iris.target
    )
    model = Pipeline(
        [("scaler", StandardScaler()), ("clf", LogisticRegression(max_iter=500))]
    ).fit(x_train, y_train)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        mlflow.sklearn.save_model(
            model,
            str(model_dir),
            signature=infer_signature(x_train[:3], model.predict(x_train[:3])),
            metadata={
                "feature_reference": train.feature_reference(x_train, train.FEATURES)
            },
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cli = [
            sys.executable,
            "-c",
            "import sys; from mlflow_platform.cli import main; sys.exit(main())",
        ]
        server = subprocess.Popen(
            [
                *cli,
                "serve",
                "--model-dir",
                str(model_dir),
                "--model-name",
                MODEL,
                "--model-version",
                VERSION,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--feature-names",
                ",".join(train.FEATURES),
                "--class-names",
                "setosa,versicolor,virginica",
                "--caller-rate",
                "1000",
                "--caller-burst",
                "1000",
            ],
            stdout=subprocess.DEVNULL,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/ping", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("the model server did not become ready")
                time.sleep(0.2)

            def predict(rows):
                req = urllib.request.Request(
                    f"{base}/predict",
                    data=json.dumps({"data": rows}).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(req, timeout=30) as r:
                    assert r.status == 200

            def scrape() -> dict[str, float]:
                with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
                    text = r.read().decode()
                out = {}
                for line in text.splitlines():
                    m = SERIES.match(line)
                    if m:
                        out[f"{m.group(1)}{{{m.group(2)}}}"] = float(m.group(3))
                return out

            normal = iris.data.tolist()
            shifted = [[a, b, round(c + 3.0, 1), d] for a, b, c, d in normal]
            predict(normal)
            after_normal = scrape()
            predict(shifted)
            after_shifted = scrape()
        finally:
            server.terminate()
            server.wait(30)
    doc = {
        "generatedBy": "scripts/model-serving-series.py",
        "what": "/metrics of the real model server after the 150 iris rows (normal), then after the same rows "
        "with petal length + 3 cm (shifted); reference: the example's training split",
        "model": MODEL,
        "version": VERSION,
        "scrapes": {"normal": after_normal, "shifted": after_shifted},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({len(after_shifted)} series)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
