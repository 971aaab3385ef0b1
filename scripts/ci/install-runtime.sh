#!/usr/bin/env bash
# Installs the runtime package (registry tool, build-context) into the job's Python, as the runtime image
# does (images/runtime): mlflow-skinny at exactly the platform's MLflow version plus the runtime's pins.
# Needs `npm run build` first (the version comes from the compiled configuration).
set -euo pipefail
eval "$(node dist/scripts/versions.js)"
python -m pip install -q --disable-pip-version-check "mlflow-skinny==$MLFLOW_VERSION" -r runtime/requirements.txt ./runtime
echo "install-runtime: mlflow-skinny $MLFLOW_VERSION, $(mlflow-platform --help >/dev/null 2>&1 && echo "mlflow-platform installed")"
