#!/usr/bin/env bash
# Deploys one model release to one environment: the release file (scripts/ci/release-file.ts), a commit
# of it on main (the reviewable record of what runs where), then synth, plan and apply of that
# environment's stack. Run by .github/workflows/release-environment.yml with the deploy role.
#   bash scripts/ci/release-apply.sh <env> <stack> <model> <version> <digest>
set -euo pipefail
env_name=$1 stack=$2 model=$3 version=$4 digest=$5

# The released digest carries the release tag in this environment's repository: no lifecycle rule selects
# it, so the pinned image (and, later, this rollback target) never expires.
bash scripts/ci/release-tag.sh "$stack/$model" "$version" "$digest"

change=$(node dist/scripts/ci/release-file.js set --env "$env_name" --model "$model" --version "$version" --digest "$digest")
echo "release file: $change"
file="config/releases/$env_name.json"
if ! git diff --quiet -- "$file"; then
  git config user.name "github-actions[bot]"
  git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
  git add "$file"
  git commit -q -m "release: $model version $version to $env_name (${digest:0:19}...)"
  git push -q origin HEAD:main
fi

# The compiled configuration reads the release file at build time.
npm run build --silent
MLFLOW_ENVIRONMENTS="$env_name" node dist/main.js
bash scripts/ci/terraform-plan.sh "$env_name" "$stack" release-plan release.tfplan
# The deploy role is denied what the bootstrap applies: stop before applying anything.
if [ -s "release-plan/$env_name.administered" ]; then
  echo "::error title=Administrator needed::the plan of $env_name changes what only an administrator may apply ($(head -n 5 "release-plan/$env_name.administered" | paste -sd, -)): re-run npm run bootstrap -- $env_name as an administrator of its account, then release again"
  exit 1
fi
terraform -chdir="cdktf.out/stacks/$stack" apply -input=false -no-color release.tfplan
