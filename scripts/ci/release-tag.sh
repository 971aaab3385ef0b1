#!/usr/bin/env bash
# Protects a released image from the repository's lifecycle policy: adds the release tag
# (release-v<version>-<12 hex of the digest>, which no lifecycle rule selects) to the digest in the
# environment's model repository. Idempotent: a tag already on this digest is success. Run by
# scripts/ci/release-apply.sh (releases and rollbacks) with the deploy role; by hand for a release
# committed without the pipeline.
#   bash scripts/ci/release-tag.sh <repository> <version> <digest>
set -euo pipefail
repository=$1 version=$2 digest=$3
tag=$(node dist/scripts/ci/release-tag.js --version "$version" --digest "$digest")
# The manifest exactly as pushed: putting it again under a new tag keeps the digest.
manifest=$(aws ecr batch-get-image --repository-name "$repository" --image-ids "imageDigest=$digest" --query 'images[0].imageManifest' --output text)
media=$(aws ecr batch-get-image --repository-name "$repository" --image-ids "imageDigest=$digest" --query 'images[0].imageManifestMediaType' --output text)
if [ -z "$manifest" ] || [ "$manifest" = "None" ]; then
  echo "release-tag: $repository has no image $digest: push it (or copy it here) first" >&2
  exit 1
fi
if ! out=$(aws ecr put-image --repository-name "$repository" --image-tag "$tag" --image-digest "$digest" \
  --image-manifest "$manifest" --image-manifest-media-type "$media" 2>&1); then
  if ! grep -q ImageAlreadyExistsException <<<"$out"; then
    echo "$out" >&2
    exit 1
  fi
fi
echo "release-tag: $repository@$digest tagged $tag"
