#!/usr/bin/env bash
# Installs the command-line checkers the tests run on the synthesized output, when they are missing:
# promtool (Debian package prometheus) and amtool (prometheus-alertmanager).
# Nothing is downloaded from outside the Debian archive.
set -euo pipefail

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
if [ ${#need[@]} -eq 0 ]; then
  echo "install-tools: promtool and amtool already present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-tools: missing ${need[*]} and no apt-get here: install promtool and amtool yourself (they ship with Prometheus and Alertmanager)" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-tools: installing ${need[*]} from Debian"
$SUDO apt-get update -qq
# The packages' services are not wanted: only their command-line tools.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
command -v promtool >/dev/null && command -v amtool >/dev/null
echo "install-tools: $(promtool --version 2>&1 | head -1)"
