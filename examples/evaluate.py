#!/usr/bin/env python3
"""Evaluate a candidate run's model against the registered version holding an alias (default production).

The `evaluate` entry point of the MLproject and the second step of the training pipeline. Both models
score the same held-out split train.py uses (same seed); the results are logged on this evaluation run
and on the candidate run (eval_accuracy, baseline_accuracy, accuracy_delta), so the registry gates and
anyone reading the candidate see them. Validation passes when there is no baseline yet, or when the
candidate is at least as accurate as the baseline on that split.

    mlflow run examples -e evaluate --env-manager local -P candidate_run_id=<run id>

Writes `validation` (passed|failed) and `evaluation.json` to --outputs-dir when given.
"""
import argparse
import json
import os
import sys

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_iris
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split


def holdout(seed: int):
    """The held-out split of train.py (same data, test size, seed and stratification)."""
    iris = load_iris()
    _, x_test, _, y_test = train_test_split(iris.data, iris.target, test_size=0.3, random_state=seed, stratify=iris.target)
    return x_test, y_test


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidate-run-id", required=True)
    parser.add_argument("--model-name", default="iris-classifier")
    parser.add_argument("--baseline-alias", default="production")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--artifact-path", default="model")
    parser.add_argument("--outputs-dir", default="")
    args = parser.parse_args()
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        print("MLFLOW_TRACKING_URI is not set: point it at the platform (https://<hostname>)", file=sys.stderr)
        return 2

    client = MlflowClient()
    x_test, y_test = holdout(args.seed)
    candidate = mlflow.pyfunc.load_model(f"runs:/{args.candidate_run_id}/{args.artifact_path}")
    candidate_accuracy = float(accuracy_score(y_test, candidate.predict(x_test)))

    baseline_version = None
    baseline_accuracy = None
    try:
        mv = client.get_model_version_by_alias(args.model_name, args.baseline_alias)
        baseline_version = mv.version
        baseline = mlflow.pyfunc.load_model(f"models:/{args.model_name}@{args.baseline_alias}")
        baseline_accuracy = float(accuracy_score(y_test, baseline.predict(x_test)))
    except MlflowException as err:
        if err.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            raise
        print(f"no {args.model_name}@{args.baseline_alias} yet: the candidate is compared with nothing")

    passed = baseline_accuracy is None or candidate_accuracy >= baseline_accuracy
    result = {
        "candidate_run_id": args.candidate_run_id,
        "candidate_accuracy": candidate_accuracy,
        "baseline": f"{args.model_name}@{args.baseline_alias}",
        "baseline_version": baseline_version,
        "baseline_accuracy": baseline_accuracy,
        "validation": "passed" if passed else "failed",
    }
    metrics = {"eval_accuracy": candidate_accuracy}
    if baseline_accuracy is not None:
        metrics.update(baseline_accuracy=baseline_accuracy, accuracy_delta=candidate_accuracy - baseline_accuracy)

    with mlflow.start_run() as run:  # the entry point's own run under `mlflow run`
        mlflow.set_tag("evaluation.candidate_run_id", args.candidate_run_id)
        mlflow.log_metrics(metrics)
        mlflow.log_dict(result, "evaluation.json")
        result["evaluation_run_id"] = run.info.run_id
    for key, value in metrics.items():
        client.log_metric(args.candidate_run_id, key, value)
    client.set_tag(args.candidate_run_id, "evaluation.validation", result["validation"])
    client.set_tag(args.candidate_run_id, "evaluation.run_id", result["evaluation_run_id"])

    print(json.dumps(result))
    if args.outputs_dir:
        os.makedirs(args.outputs_dir, exist_ok=True)
        with open(os.path.join(args.outputs_dir, "validation"), "w") as f:
            f.write(result["validation"])
        with open(os.path.join(args.outputs_dir, "evaluation.json"), "w") as f:
            json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
