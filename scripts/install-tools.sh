#!/usr/bin/env bash
# Installs the real tools the tests run against the synthesized output, reusing what is there:
#   - promtool and amtool (Debian packages prometheus, prometheus-alertmanager);
#   - a Python virtualenv with MLflow at exactly the version config pins (mlflow.version), plus
#     tools/requirements.txt (PostgreSQL and S3 drivers, Prometheus exporter, moto, scikit-learn);
#   - oauth2-proxy at exactly the version config pins (auth.proxyVersion), built with `go install`;
#   - the end-to-end run's mock OpenID provider (test/e2e/mockoidc, versions pinned by its go.sum);
#   - Azurite (npm, pinned) for the end-to-end run's Blob Storage (the Azure stack's wasbs:// store);
#   - Chromium (Debian package chromium) for the end-to-end run's browser step;
#   - actionlint (pinned, `go install`) and ShellCheck (Debian) for the workflows (npm run lint:workflows);
#   - checkov (tools/checkov-requirements.txt, own virtualenv) and Renovate's config validator (npm, pinned).
# Everything comes from Debian, PyPI, npm or the Go module proxy; nothing else is downloaded.
# Tools live in $MLFLOW_PLATFORM_TOOLS (default ~/.cache/mlflow-platform-e2e), shared by clones.
# Reads the pinned versions from the compiled configuration: builds first when dist/ is missing or older
# than config/ (npm test calls this script first, right after npm ci on a fresh clone too).
# Idempotent: each tool is checked against its pin and skipped when present (a second run takes seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f dist/scripts/versions.js ] || [ -n "$(find config scripts/versions.ts -newer dist/scripts/versions.js -name '*.ts' -print -quit)" ]; then
  echo "install-tools: building (dist/ is missing or older than config/)"
  npx tsc -p tsconfig.build.json
fi
TOOLS="${MLFLOW_PLATFORM_TOOLS:-$HOME/.cache/mlflow-platform-e2e}"
mkdir -p "$TOOLS/bin"
eval "$(node dist/scripts/versions.js)"

# Several clones (and CI) share $TOOLS: one installer at a time, the others wait and then reuse.
exec 9>"$TOOLS/.install.lock"
if ! flock -n 9; then
  echo "install-tools: another install into $TOOLS is running; waiting for it"
  flock 9
fi

# ── promtool, amtool, PostgreSQL server binaries, openssl (Debian) ─────────────
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
# The end-to-end run's database and its self-signed certificate.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The end-to-end run's real browser (headless, driven by playwright-core; no browser download).
[ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The workflows' run: blocks and CI scripts (actionlint calls it).
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-tools: missing ${need[*]} and no apt-get: install promtool and amtool (Prometheus, Alertmanager) yourself" >&2
    exit 1
  fi
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-tools: installing ${need[*]} from Debian"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "install-tools: $(promtool --version 2>&1 | head -1)"
echo "install-tools: $( (/usr/lib/chromium/chromium --version || chromium --version) 2>/dev/null | head -1)"

# ── Python virtualenv with the pinned MLflow ───────────────────────────────────
stamp="$TOOLS/venv/.installed-$( (echo "mlflow==$MLFLOW_VERSION"; cat tools/requirements.txt runtime/requirements.txt) | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "install-tools: installing mlflow==$MLFLOW_VERSION, tools/requirements.txt and runtime/requirements.txt into $TOOLS/venv"
  [ -x "$TOOLS/venv/bin/python" ] || python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check "mlflow==$MLFLOW_VERSION" -r tools/requirements.txt -r runtime/requirements.txt
  rm -f "$TOOLS"/venv/.installed-* && touch "$stamp"
fi
# The installed distribution's version (importing mlflow takes seconds; npm test runs this script every time).
echo "install-tools: mlflow $("$TOOLS/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mlflow"))')"

# ── checkov in its own virtualenv (tools/checkov-requirements.txt: its pins conflict with the tools') ──
stamp="$TOOLS/checkov/.installed-$(sha256sum < tools/checkov-requirements.txt | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "install-tools: installing tools/checkov-requirements.txt into $TOOLS/checkov"
  [ -x "$TOOLS/checkov/bin/python" ] || python3 -m venv "$TOOLS/checkov"
  "$TOOLS/checkov/bin/pip" install -q --disable-pip-version-check -r tools/checkov-requirements.txt
  rm -f "$TOOLS"/checkov/.installed-* && touch "$stamp"
fi
echo "install-tools: checkov $("$TOOLS/checkov/bin/python" -c 'import importlib.metadata as m; print(m.version("checkov"))')"

# ── Renovate's config validator (renovate-config-validator, npm test's check of renovate.json) ──
# Pinned and installed beside the other tools rather than as a devDependency: the package brings ~785
# packages (about 330 MB, 2 minutes cold) that the synth never needs. 39.x is the last line that runs on
# Node 20 (40+ need Node 22 or 24), and it validates the configuration the hosted Renovate reads.
RENOVATE_VERSION=39.264.1
if [ "$(node -p "require('$TOOLS/renovate/node_modules/renovate/package.json').version" 2>/dev/null)" != "$RENOVATE_VERSION" ]; then
  echo "install-tools: installing renovate@$RENOVATE_VERSION (its config validator) into $TOOLS/renovate"
  mkdir -p "$TOOLS/renovate"
  [ -f "$TOOLS/renovate/package.json" ] || echo '{"private": true}' > "$TOOLS/renovate/package.json"
  npm install --prefix "$TOOLS/renovate" --no-audit --no-fund --ignore-scripts --loglevel=error "renovate@$RENOVATE_VERSION" >/dev/null
fi
echo "install-tools: renovate-config-validator $RENOVATE_VERSION"

# ── The runtime package (runtime/: registry tool, events service, model server, jobs) ──
# Installed (not editable: clones share the virtualenv) whenever its sources change.
stamp="$TOOLS/venv/.runtime-$(find runtime -type f \( -name '*.py' -o -name '*.toml' -o -name '*.txt' \) -not -path '*/tests/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "install-tools: installing the runtime package (runtime/) into $TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check --no-deps --force-reinstall ./runtime
  rm -rf runtime/build runtime/src/*.egg-info
  rm -f "$TOOLS"/venv/.runtime-* && touch "$stamp"
fi
echo "install-tools: runtime $("$TOOLS/venv/bin/python" -c 'import mlflow_platform; print(mlflow_platform.__version__)')"

# ── oauth2-proxy at the pinned version ─────────────────────────────────────────
# `go install` embeds no version string (--version says "undefined"): read the module version instead.
if ! go version -m "$TOOLS/bin/oauth2-proxy" 2>/dev/null | grep -qE "^\s+mod\s+github.com/oauth2-proxy/oauth2-proxy/v7\s+v$OAUTH2_PROXY_VERSION\s"; then
  echo "install-tools: building oauth2-proxy v$OAUTH2_PROXY_VERSION with go install"
  GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "github.com/oauth2-proxy/oauth2-proxy/v7@v$OAUTH2_PROXY_VERSION"
fi
echo "install-tools: oauth2-proxy $(go version -m "$TOOLS/bin/oauth2-proxy" | awk '$1 == "mod" {print $3}')"

# ── actionlint at the pinned version (the workflows' check, with ShellCheck) ──────
ACTIONLINT_VERSION=1.7.12
if ! go version -m "$TOOLS/bin/actionlint" 2>/dev/null | grep -qE "^\s+mod\s+github.com/rhysd/actionlint\s+v$ACTIONLINT_VERSION\s"; then
  echo "install-tools: building actionlint v$ACTIONLINT_VERSION with go install"
  GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
fi
echo "install-tools: actionlint $("$TOOLS/bin/actionlint" -version | head -1), $(shellcheck --version | awk '/^version:/ {print "shellcheck " $2}')"

# ── fake-gcs-server at the pinned version (the end-to-end run's Cloud Storage, for the GCP stack's gs:// store) ──
FAKE_GCS_SERVER_VERSION=1.56.1
if ! go version -m "$TOOLS/bin/fake-gcs-server" 2>/dev/null | grep -qE "^\s+mod\s+github.com/fsouza/fake-gcs-server\s+v$FAKE_GCS_SERVER_VERSION\s"; then
  echo "install-tools: building fake-gcs-server v$FAKE_GCS_SERVER_VERSION with go install"
  GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "github.com/fsouza/fake-gcs-server@v$FAKE_GCS_SERVER_VERSION"
fi
echo "install-tools: fake-gcs-server $(go version -m "$TOOLS/bin/fake-gcs-server" | awk '$1 == "mod" {print $3}')"

# ── Azurite at the pinned version (the end-to-end run's Blob Storage, for the Azure stack's wasbs:// store) ──
# npm, installed beside the other tools like the Renovate validator: the synth never needs it.
AZURITE_VERSION=3.37.0
if [ "$(node -p "require('$TOOLS/azurite/node_modules/azurite/package.json').version" 2>/dev/null)" != "$AZURITE_VERSION" ]; then
  echo "install-tools: installing azurite@$AZURITE_VERSION into $TOOLS/azurite"
  mkdir -p "$TOOLS/azurite"
  [ -f "$TOOLS/azurite/package.json" ] || echo '{"private": true}' > "$TOOLS/azurite/package.json"
  npm install --prefix "$TOOLS/azurite" --no-audit --no-fund --ignore-scripts --loglevel=error "azurite@$AZURITE_VERSION" >/dev/null
fi
echo "install-tools: azurite $AZURITE_VERSION"

# ── mock OpenID provider for the end-to-end run (test/e2e/mockoidc, pinned by its go.sum) ──
stamp="$TOOLS/bin/.mockoidc-$(cat test/e2e/mockoidc/go.mod test/e2e/mockoidc/go.sum test/e2e/mockoidc/main.go | sha256sum | cut -c1-16)"
if [ ! -x "$TOOLS/bin/mockoidc" ] || [ ! -f "$stamp" ]; then
  echo "install-tools: building test/e2e/mockoidc"
  (cd test/e2e/mockoidc && go build -trimpath -o "$TOOLS/bin/mockoidc" .)
  rm -f "$TOOLS"/bin/.mockoidc-* && touch "$stamp"
fi
echo "install-tools: mockoidc $(go version -m "$TOOLS/bin/mockoidc" | awk '$1 == "dep" && $2 == "github.com/oauth2-proxy/mockoidc" {print $3}')"

# ── kube-apiserver, etcd and helm-render for the Kubernetes API check (tools/kube, pinned by its go.sum) ──
# k8s.io/kubernetes and go.etcd.io/etcd/server/v3 from the Go module proxy (tools/kube/go.mod replaces the
# staging modules by their k8s.io/* v0.x releases); Helm as a library (tools/kube/helm-render/go.mod).
KUBE_MODULE_VERSION="$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' tools/kube/go.mod)"
case "$KUBE_MODULE_VERSION" in v"$KUBERNETES_VERSION".*) ;; *)
  echo "install-tools: the configuration targets Kubernetes $KUBERNETES_VERSION (cluster.kubernetesVersion) but tools/kube/go.mod builds $KUBE_MODULE_VERSION: run \`bash tools/kube/set-version.sh $KUBERNETES_VERSION\` and commit tools/kube/go.mod and go.sum" >&2
  exit 1 ;;
esac
stamp="$TOOLS/bin/.kube-$( (cat tools/kube/go.mod tools/kube/go.sum tools/kube/cmd/*/main.go) | sha256sum | cut -c1-16)"
if [ ! -x "$TOOLS/bin/kube-apiserver" ] || [ ! -x "$TOOLS/bin/etcd" ] || [ ! -f "$stamp" ]; then
  echo "install-tools: building kube-apiserver $KUBE_MODULE_VERSION and etcd from the Go module proxy (several minutes on 2 cores)"
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_MODULE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${KUBERNETES_VERSION#1.}"
  (cd tools/kube && GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$TOOLS/bin/kube-apiserver" ./cmd/kube-apiserver)
  (cd tools/kube && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$TOOLS/bin/etcd" ./cmd/etcd)
  rm -f "$TOOLS"/bin/.kube-* && touch "$stamp"
fi
echo "install-tools: kube-apiserver $("$TOOLS/bin/kube-apiserver" --version | awk '{print $2}'), etcd $("$TOOLS/bin/etcd" --version | awk '/etcd Version/ {print $3}')"
stamp="$TOOLS/bin/.helm-render-$(cat tools/kube/helm-render/go.mod tools/kube/helm-render/go.sum tools/kube/helm-render/main.go | sha256sum | cut -c1-16)"
if [ ! -x "$TOOLS/bin/helm-render" ] || [ ! -f "$stamp" ]; then
  echo "install-tools: building helm-render (Helm as a Go library)"
  (cd tools/kube/helm-render && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$TOOLS/bin/helm-render" .)
  rm -f "$TOOLS"/bin/.helm-render-* && touch "$stamp"
fi
echo "install-tools: helm-render $(go version -m "$TOOLS/bin/helm-render" | awk '$1 == "dep" && $2 == "helm.sh/helm/v3" {print $3}')"

# ── argo CLI at the training pipeline's Argo Workflows version (scripts/build-argo-cli.sh) ──
if ! "$TOOLS/bin/argo" version --short 2>/dev/null | grep -q "$ARGO_WORKFLOWS_VERSION"; then
  echo "install-tools: building the argo CLI $ARGO_WORKFLOWS_VERSION from the Go module proxy (several minutes on 2 cores)"
  bash scripts/build-argo-cli.sh "$ARGO_WORKFLOWS_VERSION" "$TOOLS/bin/argo"
fi
echo "install-tools: argo $("$TOOLS/bin/argo" version --short 2>/dev/null)"
