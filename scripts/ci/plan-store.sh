#!/usr/bin/env bash
# Saves a plan file into, or fetches it from, the environment's plan store (its state bucket, where the plan's
# secrets are as protected as the state's), with the CLI of the environment's cloud:
#   bash scripts/ci/plan-store.sh put <local file> <object name>
#   bash scripts/ci/plan-store.sh get <object name> <local file>
# Reads CLOUD and PLAN_STORE from the matrix (scripts/ci/environments.ts); on aws also STATE_REGION and
# STATE_KMS_KEY (the plan is encrypted with the state's key). Another cloud adds its case here.
set -euo pipefail
if [ $# -ne 3 ] || { [ "$1" != put ] && [ "$1" != get ]; }; then
  echo "usage: plan-store.sh put <file> <object> | get <object> <file>" >&2
  exit 2
fi
op=$1 from=$2 to=$3
store=${PLAN_STORE:?PLAN_STORE, the planStore of the matrix row}
case "${CLOUD:?CLOUD, the cloud of the matrix row}" in
  aws)
    [[ $store == s3://* ]] || { echo "plan-store: PLAN_STORE $store is not an s3:// location (cloud aws)" >&2; exit 2; }
    if [ "$op" = put ]; then
      aws s3 cp --only-show-errors --region "${STATE_REGION:?}" --sse aws:kms --sse-kms-key-id "${STATE_KMS_KEY:?}" "$from" "$store/$to"
    else
      aws s3 cp --only-show-errors --region "${STATE_REGION:?}" "$store/$from" "$to"
    fi
    ;;
  gcp)
    [[ $store == gs://* ]] || { echo "plan-store: PLAN_STORE $store is not a gs:// location (cloud gcp)" >&2; exit 2; }
    # The bucket's default encryption applies (the bootstrap's state bucket); google-github-actions/auth's
    # credentials reach gcloud through CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE.
    if [ "$op" = put ]; then
      gcloud storage cp --quiet "$from" "$store/$to"
    else
      gcloud storage cp --quiet "$store/$from" "$to"
    fi
    ;;
  *)
    echo "plan-store: cloud \"$CLOUD\" has no plan store" >&2
    exit 2
    ;;
esac
