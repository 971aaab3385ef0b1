#!/usr/bin/env bash
# Installs the real tools the tests run against the synthesized output, reusing what is there:
#   - promtool and amtool (Debian packages prometheus, prometheus-alertmanager);
#   - a Python virtualenv with MLflow at exactly the version config pins (mlflow.version), plus
#     tools/requirements.txt (PostgreSQL and S3 drivers, Prometheus exporter, moto, scikit-learn);
#   - oauth2-proxy at exactly the version config pins (auth.proxyVersion), built with `go install`;
#   - the end-to-end run's mock OpenID provider (test/e2e/mockoidc, versions pinned by its go.sum);
#   - Chromium (Debian package chromium) for the end-to-end run's browser step.
# Everything comes from Debian, PyPI or the Go module proxy; nothing else is downloaded.
# Tools live in $MLFLOW_PLATFORM_TOOLS (default ~/.cache/mlflow-platform-e2e), shared by clones.
# Needs `npm run build` first (it reads the pinned versions from the compiled configuration).
set -euo pipefail
cd "$(dirname "$0")/.."
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
echo "install-tools: mlflow $("$TOOLS/venv/bin/python" -c 'import mlflow; print(mlflow.__version__)')"

# ── The runtime package (runtime/: registry tool, events service, model server, jobs) ──
# Installed (not editable: clones share the virtualenv) whenever its sources change.
stamp="$TOOLS/venv/.runtime-$(find runtime -type f \( -name '*.py' -o -name '*.toml' -o -name '*.txt' \) -not -path '*/tests/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "install-tools: installing the runtime package (runtime/) into $TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation --force-reinstall ./runtime
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

# ── mock OpenID provider for the end-to-end run (test/e2e/mockoidc, pinned by its go.sum) ──
stamp="$TOOLS/bin/.mockoidc-$(cat test/e2e/mockoidc/go.mod test/e2e/mockoidc/go.sum test/e2e/mockoidc/main.go | sha256sum | cut -c1-16)"
if [ ! -x "$TOOLS/bin/mockoidc" ] || [ ! -f "$stamp" ]; then
  echo "install-tools: building test/e2e/mockoidc"
  (cd test/e2e/mockoidc && go build -trimpath -o "$TOOLS/bin/mockoidc" .)
  rm -f "$TOOLS"/bin/.mockoidc-* && touch "$stamp"
fi
echo "install-tools: mockoidc $(go version -m "$TOOLS/bin/mockoidc" | awk '$1 == "dep" && $2 == "github.com/oauth2-proxy/mockoidc" {print $3}')"
