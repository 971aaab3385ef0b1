#!/usr/bin/env bash
# Points tools/kube/go.mod at the newest patch release of a Kubernetes minor version:
#   bash tools/kube/set-version.sh 1.35
# k8s.io/kubernetes, its staging modules replaced by the matching k8s.io/* v0.x releases, and the etcd
# server version that release of Kubernetes requires. Then `go mod tidy`; commit go.mod and go.sum.
set -euo pipefail
minor="${1:?usage: set-version.sh 1.NN}"
cd "$(dirname "$0")"
version="$(GOFLAGS=-mod=mod go list -m -versions k8s.io/kubernetes | tr ' ' '\n' | grep -E "^v$minor\.[0-9]+$" | sort -V | tail -1)"
[ -n "$version" ] || { echo "set-version: no k8s.io/kubernetes v$minor.x on the module proxy" >&2; exit 1; }
staging="v0.${version#v1.}"
upstream="$(curl -fsS "${GOPROXY%%,*}/k8s.io/kubernetes/@v/$version.mod")"
etcd="$(echo "$upstream" | awk '$1 == "go.etcd.io/etcd/server/v3" {print $2; exit}')"
{
  sed -n '1,/^module /p' go.mod
  printf '\ngo 1.24.0\n\nrequire (\n\tk8s.io/kubernetes %s\n\tgo.etcd.io/etcd/server/v3 %s\n)\n\nreplace (\n' "$version" "$etcd"
  echo "$upstream" | awk -v v="$staging" '$2 == "=>" && $3 ~ /^\.\/staging\// {print "\t" $1 " => " $1 " " v}'
  echo ")"
} > go.mod.new
mv go.mod.new go.mod
sed -i "s/(v1\.[0-9]*\.[0-9]* -> v0\.[0-9]*\.[0-9]*)/($version -> $staging)/" go.mod
rm -f go.sum
GOFLAGS=-mod=mod go mod tidy
echo "set-version: tools/kube/go.mod now builds kube-apiserver $version (staging $staging, etcd $etcd)"
