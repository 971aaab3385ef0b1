#!/usr/bin/env bash
# Lint and unit tests of the runtime package (runtime/) and lint of the tests' Python helpers, with the tools virtualenv's Python (the pinned
# MLflow and runtime/requirements.txt). Part of `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${MLFLOW_PLATFORM_TOOLS:-$HOME/.cache/mlflow-platform-e2e}"
PY="$TOOLS/venv/bin/python"
if [ ! -x "$PY" ]; then
  echo "test-runtime: $PY not found: run \`npm run tools\` (scripts/install-tools.sh) first" >&2
  exit 1
fi
"$PY" -m ruff check runtime
"$PY" -m ruff format --check runtime
# The Python the unit tests run (the shared MLflow process, the fake PostgreSQL), by the same rules.
"$PY" -m ruff check --config runtime/pyproject.toml test
"$PY" -m ruff format --check --config runtime/pyproject.toml test
# --hypothesis-show-statistics: the property tests' figures (examples tried, passing, failing) in the output.
cd runtime && exec "$PY" -m pytest --hypothesis-show-statistics "$@"
