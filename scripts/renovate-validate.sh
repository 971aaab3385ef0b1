#!/usr/bin/env bash
# renovate.json checked by Renovate's own validator (pinned, installed by scripts/install-tools.sh into the
# tools folder): unknown options, bad regular expressions and deprecated settings fail (--strict).
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${MLFLOW_PLATFORM_TOOLS:-$HOME/.cache/mlflow-platform-e2e}"
validator="$TOOLS/renovate/node_modules/.bin/renovate-config-validator"
if [ ! -x "$validator" ]; then
  echo "renovate-validate: $validator not found: run bash scripts/install-tools.sh (npm test does)" >&2
  exit 1
fi
LOG_LEVEL=warn "$validator" --strict renovate.json
echo "renovate-validate: renovate.json is valid"
