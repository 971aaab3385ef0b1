#!/usr/bin/env python3
"""Train an iris classifier and track it in the platform's MLflow.

What a data scientist runs. Authentication is an OpenID Connect ID token from the organisation's
identity provider, passed as MLFLOW_TRACKING_TOKEN (the MLflow client sends it as
`Authorization: Bearer <token>`); the platform's OAuth2 Proxy verifies it. Artifacts go through
the tracking server (proxied artifacts): no AWS credentials are needed on this machine.

    export MLFLOW_TRACKING_URI=https://mlflow.example.com
    export MLFLOW_TRACKING_TOKEN=$(<command that prints your ID token>)
    python examples/train.py --lr 0.05 --batch-size 16

Logs: params lr and batch_size; metrics accuracy and loss at every epoch (step); artifacts
confusion_matrix.png, feature_names.pkl and the fitted standardscaler.pkl; the git commit as a tag;
and the model (scaler + classifier pipeline) with mlflow.sklearn.log_model, its MLmodel metadata
carrying the training reference the platform's drift detection compares with (feature_reference:
per feature, decile bin edges, the training fraction in each bin and 101 quantiles; no raw rows).
"""
import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, confusion_matrix, log_loss  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def git_sha() -> str:
    """The commit the code comes from: $GIT_SHA_OVERRIDE (a pipeline submission naming one), $GIT_SHA
    (CI, or the training image: set when it is built), else `git rev-parse HEAD`, else "unknown"."""
    for var in ("GIT_SHA_OVERRIDE", "GIT_SHA"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.check_output(["git", "-C", here, "rev-parse", "HEAD"], text=True, stderr=subprocess.DEVNULL).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


#: The model's input fields, in order (the serving configuration declares the same: inputFields).
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def feature_reference(x: np.ndarray, names: list[str], bins: int = 10) -> dict:
    """The training reference of the model's inputs (the format of runtime/.../serving/observability.py).

    Bin i holds edges[i-1] <= x < edges[i] (ends open); quantiles are numpy's default (linear).
    """
    features = []
    for j, name in enumerate(names):
        v = np.sort(x[:, j].astype(float))
        edges = sorted({round(float(q), 10) for q in np.quantile(v, [i / bins for i in range(1, bins)])})
        counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
        features.append({
            "name": name,
            "edges": edges,
            "fractions": [round(float(c) / len(v), 6) for c in counts],
            "quantiles": [round(float(q), 10) for q in np.quantile(v, [i / 100 for i in range(101)])],
            "count": int(len(v)),
        })
    return {"format": 1, "features": features}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiment", default="iris-classifier")
    parser.add_argument("--lr", type=float, default=0.05, help="initial learning rate (Adam)")
    parser.add_argument("--batch-size", type=int, default=16, help="mini-batch size")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", help="write run id, model URI and final metrics as JSON here")
    parser.add_argument("--outputs-dir", default="", help="also write run_id, accuracy and result.json here (pipeline outputs)")
    args = parser.parse_args()

    if not os.environ.get("MLFLOW_TRACKING_URI"):
        print("MLFLOW_TRACKING_URI is not set: point it at the platform (https://<hostname>)", file=sys.stderr)
        return 2
    if not os.environ.get("MLFLOW_TRACKING_TOKEN"):
        print("MLFLOW_TRACKING_TOKEN is not set: the platform only accepts authenticated requests", file=sys.stderr)
        return 2

    iris = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        iris.data, iris.target, test_size=0.3, random_state=args.seed, stratify=iris.target
    )
    scaler = StandardScaler().fit(x_train)
    xs_train, xs_test = scaler.transform(x_train), scaler.transform(x_test)
    classes = np.unique(iris.target)
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=args.lr, batch_size=args.batch_size, random_state=args.seed)

    # Under `mlflow run` the run exists already (MLFLOW_RUN_ID, in the experiment --experiment-name chose).
    if not os.environ.get("MLFLOW_RUN_ID"):
        mlflow.set_experiment(args.experiment)
    with mlflow.start_run() as run:
        mlflow.log_params({"lr": args.lr, "batch_size": args.batch_size, "epochs": args.epochs})
        sha = git_sha()
        mlflow.set_tag("git_sha", sha)
        # MLflow sets the source commit itself when it runs a git checkout; an image has no checkout.
        if "mlflow.source.git.commit" not in mlflow.get_run(run.info.run_id).data.tags and sha != "unknown":
            mlflow.set_tag("mlflow.source.git.commit", sha)

        for epoch in range(args.epochs):
            clf.partial_fit(xs_train, y_train, classes=classes)  # one epoch of mini-batches
            loss = log_loss(y_train, clf.predict_proba(xs_train), labels=classes)
            accuracy = accuracy_score(y_test, clf.predict(xs_test))
            mlflow.log_metrics({"loss": loss, "accuracy": accuracy}, step=epoch)

        predictions = clf.predict(xs_test)
        with tempfile.TemporaryDirectory() as tmp:
            cm = confusion_matrix(y_test, predictions, labels=classes)
            ConfusionMatrixDisplay(cm, display_labels=iris.target_names).plot(cmap="Blues")
            plt.title(f"iris, lr={args.lr}, batch_size={args.batch_size}")
            plt.savefig(os.path.join(tmp, "confusion_matrix.png"), dpi=100, bbox_inches="tight")
            plt.close("all")
            with open(os.path.join(tmp, "feature_names.pkl"), "wb") as f:
                pickle.dump(list(iris.feature_names), f)
            with open(os.path.join(tmp, "standardscaler.pkl"), "wb") as f:
                pickle.dump(scaler, f)
            for name in ("confusion_matrix.png", "feature_names.pkl", "standardscaler.pkl"):
                mlflow.log_artifact(os.path.join(tmp, name))

        # The served model takes raw measurements: scaling is part of it.
        model = Pipeline([("scaler", scaler), ("classifier", clf)])
        example = x_test[:3]
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=example,
            signature=infer_signature(example, model.predict(example)),
            # Saved with skops (MLflow's safe default, not pickle); the MLP's optimizer state is a
            # scikit-learn type skops does not trust by default: name it, nothing broader.
            skops_trusted_types=["sklearn.neural_network._stochastic_optimizers.AdamOptimizer"],
            # What the served model's inputs are compared with (drift): the training rows' distribution.
            metadata={"feature_reference": feature_reference(x_train, FEATURES)},
        )
        result = {
            "run_id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "model_uri": info.model_uri,
            "model_id": getattr(info, "model_id", None),
            "accuracy": accuracy,
            "loss": loss,
            "epochs": args.epochs,
        }
    print(json.dumps(result))
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f)
    if args.outputs_dir:
        os.makedirs(args.outputs_dir, exist_ok=True)
        for name, value in (("run_id", run.info.run_id), ("accuracy", f"{accuracy:.6f}"), ("result.json", json.dumps(result))):
            with open(os.path.join(args.outputs_dir, name), "w") as f:
                f.write(value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
