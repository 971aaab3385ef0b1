#!/usr/bin/env bash
# Waits for a model's rollout in one environment and smoke-tests POST /predict on the new pods.
# With Argo Rollouts (a Rollout named like the Deployment, and the kubectl plugin) its status includes
# the analysis; otherwise the Deployment's rollout status. Exit non-zero on a failed rollout or smoke
# test: the workflow then rolls back.
#   bash scripts/ci/release-verify.sh <env> <stack> <namespace> <model> <version>
set -euo pipefail
env_name=$1 stack=$2 namespace=$3 model=$4 version=$5
name="$stack-$model"
cluster=$(node -e 'const c=require("./dist/config").loadEnvironments().find((e)=>e.name===process.argv[1]); process.stdout.write(c.cluster.name)' "$env_name")
aws eks update-kubeconfig --name "$cluster" >/dev/null

if kubectl -n "$namespace" get "rollouts.argoproj.io/$name" >/dev/null 2>&1 && kubectl argo rollouts version >/dev/null 2>&1; then
  kubectl argo rollouts status "$name" -n "$namespace" --timeout 15m
else
  kubectl -n "$namespace" rollout status "deployment/$name" --timeout 15m
fi

# The input example logged with the model is the smoke test's request (read from the registry with the
# pipeline's OIDC token; MLFLOW_TRACKING_URI and AUDIENCE come from the job).
MLFLOW_TRACKING_TOKEN=$(node dist/scripts/ci/id-token.js --audience "${AUDIENCE:?the audience the MLflow proxy accepts on GitHub tokens}")
export MLFLOW_TRACKING_TOKEN
python - "$model" "$version" >example.json <<'PY'
import json, sys, mlflow
path = mlflow.artifacts.download_artifacts(f"models:/{sys.argv[1]}/{sys.argv[2]}")
with open(f"{path}/serving_input_example.json") as f:
    print(json.dumps(json.load(f)))
PY

kubectl -n "$namespace" port-forward "service/$name" 18080:80 >/dev/null 2>&1 &
forward=$!
trap 'kill "$forward" 2>/dev/null || true' EXIT
node dist/scripts/ci/smoke-test.js --url http://127.0.0.1:18080 --model "$model" --version "$version" --example-file example.json --timeout 120
