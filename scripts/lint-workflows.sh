#!/usr/bin/env bash
# Lints the GitHub workflows with actionlint (pinned, built by scripts/install-tools.sh) and ShellCheck
# on every `run:` block, and ShellCheck on the shell scripts the workflows call. Part of `npm test`.
#   bash scripts/lint-workflows.sh                 # .github/workflows/*.yml, scripts/ci/*.sh, .ci/run
#   bash scripts/lint-workflows.sh <workflow.yml>  # only these files (the broken-workflow test)
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${MLFLOW_PLATFORM_TOOLS:-$HOME/.cache/mlflow-platform-e2e}"
actionlint="$TOOLS/bin/actionlint"
if [ ! -x "$actionlint" ]; then
  echo "lint-workflows: $actionlint is missing: run \`npm run tools\` (bash scripts/install-tools.sh)" >&2
  exit 2
fi
if ! shellcheck=$(command -v shellcheck); then
  # Without ShellCheck actionlint silently skips the run: blocks: refuse instead.
  echo "lint-workflows: shellcheck is missing: run \`npm run tools\` (Debian package shellcheck)" >&2
  exit 2
fi
if [ $# -gt 0 ]; then
  exec "$actionlint" -shellcheck="$shellcheck" "$@"
fi
"$actionlint" -shellcheck="$shellcheck" .github/workflows/*.yml
"$shellcheck" scripts/ci/*.sh .ci/run
echo "lint-workflows: $(ls .github/workflows/*.yml | wc -l) workflows and $(ls scripts/ci/*.sh | wc -l) CI scripts clean ($("$actionlint" -version | head -1), shellcheck $("$shellcheck" --version | awk '/^version:/ {print $2}'))"
