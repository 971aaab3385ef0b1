#!/usr/bin/env bash
# Builds the `argo` CLI at the Argo Workflows version the training pipeline targets (config/training.ts,
# ARGO_WORKFLOWS_APP_VERSION) from the Go module proxy, for `argo lint --offline` of the synthesized
# WorkflowTemplate and CronWorkflow (test/constructs/training/argo-lint.test.ts).
#
# `go install github.com/argoproj/argo-workflows/v3/cmd/argo@<v>` cannot be used: the module has a replace
# directive (go install refuses those), and the proxy here answers 403 to the version list go install
# asks for. So: download the module, copy it, build ./cmd/argo inside it with its own go.mod and go.sum.
# The module zip lacks the UI's compiled assets (ui/dist/app, which `argo server` embeds); lint does not
# use them, so an empty placeholder page stands in. No -trimpath: a rebuild reuses the Go build cache.
# Usage: build-argo-cli.sh <version, e.g. v3.7.3> <output binary>
set -euo pipefail
version="$1"
out="$2"
module="github.com/argoproj/argo-workflows/v3"
dir="$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
[ -d "$dir" ] || { echo "build-argo-cli: $module@$version did not download" >&2; exit 1; }
# A stable source directory: the Go build cache keys the module's own packages by their path.
src="${ARGO_BUILD_DIR:-${TMPDIR:-/tmp}/argo-cli-src-$version}"
if [ ! -f "$src/go.mod" ]; then
  rm -rf "$src" && mkdir -p "$(dirname "$src")"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
fi
mkdir -p "$src/ui/dist/app"
echo '<!-- placeholder: this CLI is built for argo lint --offline; it serves no UI -->' > "$src/ui/dist/app/index.html"
(cd "$src" && GOFLAGS=-mod=mod go build -ldflags "-s -w -X github.com/argoproj/argo-workflows/v3.version=$version" -o "$out" ./cmd/argo)
