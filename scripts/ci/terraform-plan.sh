#!/usr/bin/env bash
# Plans one synthesized stack with plain Terraform and renders its summary (scripts/ci/plan-summary.ts).
#   bash scripts/ci/terraform-plan.sh <env> <stack> <out dir> [plan file name]
# Writes <out>/<env>.md (the summary: addresses and actions only, safe to upload), <out>/<env>.administered
# when the plan changes what only an administrator may apply (their addresses: the apply stops on it) and,
# when the plan succeeded, cdktf.out/stacks/<stack>/<plan file>; prints exitcode=0|1|2 into $GITHUB_OUTPUT
# (-detailed-exitcode: 0 no changes, 2 changes, 1 error). Exits 1 when the plan failed.
set -uo pipefail
env_name=$1 stack=$2 out=$3 planfile=${4:-plan.tfplan}
dir="cdktf.out/stacks/$stack"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
code=0
terraform -chdir="$dir" init -input=false -no-color >"$work/plan.log" 2>&1 || code=1
if [ "$code" -eq 0 ]; then
  terraform -chdir="$dir" plan -input=false -lock=false -no-color -detailed-exitcode -out="$planfile" >>"$work/plan.log" 2>&1
  code=$?
fi
if [ "$code" -ne 1 ]; then
  # The JSON holds attribute values (secrets too): it stays in the temporary folder.
  terraform -chdir="$dir" show -json "$planfile" >"$work/plan.json" || code=1
fi
node dist/scripts/ci/plan-summary.js --env "$env_name" --exitcode "$code" --plan "$work/plan.json" --log "$work/plan.log" \
  --stack-json "$dir/cdk.tf.json" --administered-out "$out/$env_name.administered" >"$out/$env_name.md"
status=$?
if [ -s "$out/$env_name.administered" ]; then
  echo "::warning title=Administrator needed ($env_name)::the plan changes what only an administrator may apply: re-run npm run bootstrap -- $env_name as an administrator before it is applied (see the plan summary)"
fi
cat "$out/$env_name.md" >>"${GITHUB_STEP_SUMMARY:-/dev/null}"
echo "exitcode=$code" >>"${GITHUB_OUTPUT:-/dev/null}"
exit "$status"
