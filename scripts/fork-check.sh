#!/usr/bin/env bash
# The fork check: copies the repository (tracked files only) to a temporary folder, edits
# config/environments.ts the way the README's fork checklist says (scripts/fork-config.mjs: every
# placeholder replaced, a fourth environment in another account, region and domain), and runs the
# synth and the unit tests there. A test that hard-codes the shipped environments fails here. The
# property tests also run on the test fixture's every-option environment (test/fixtures/environments.ts),
# merged there with the fork's own `shared` values: every optional feature meets the fork's settings.
# Run by .ci/run after `npm test`. Needs `npm run setup` (node_modules) and the tools (`npm run tools`, which npm test runs first).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
fork=$(mktemp -d "${TMPDIR:-/tmp}/mlflow-fork-check.XXXXXX")
trap 'rm -rf "$fork"' EXIT
git ls-files -z --cached --others --exclude-standard | (cd "$root" && xargs -0 cp --parents -t "$fork" 2>/dev/null || true)
ln -s "$root/node_modules" "$fork/node_modules"
cd "$fork"
node scripts/fork-config.mjs config/environments.ts
# Its own incremental-build record: node_modules (and its .cache) is the original's, shared.
npx tsc -p tsconfig.build.json --tsBuildInfoFile "$fork/.tsbuildinfo"
node dist/main.js
ls cdktf.out/stacks
npx jest --silent "$@"
