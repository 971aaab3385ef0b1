/**
 * What the release pipeline deploys is what it scanned and what the repository keeps: the image is one
 * manifest pushed by digest (an image index would go unscanned by ECR's basic scanning), the scan gate
 * reads the findings of that digest, copies keep the digest, and every environment's release tags it with
 * the tag no lifecycle rule selects (constructs/core/ecr-rules.ts).
 */
import * as fs from "fs";
import * as path from "path";
import { runShell, workflowStepRun } from "../helpers/shell-steps";
import { fixtureEnvironments } from "../helpers/fixture-environments";
import { ciEnvironments } from "../../scripts/ci/environments";
import { imageCopies } from "../../config/image-copies";

const ROOT = path.join(__dirname, "..", "..");
const read = (f: string) =>
  fs
    .readFileSync(path.join(ROOT, f), "utf8")
    .split("\n")
    .filter((l) => !l.trimStart().startsWith("#"))
    .join("\n");
const releaseModel = read(".github/workflows/release-model.yml");
const releaseEnvironment = read(".github/workflows/release-environment.yml");
const releaseApply = read("scripts/ci/release-apply.sh");

test("the image is pushed as one manifest, by digest, without registry attestations", () => {
  const build = /docker buildx build[\s\S]*?--metadata-file build\.json ctx/.exec(releaseModel)?.[0] ?? "";
  expect(build).toMatch(/--provenance=false --sbom=false/);
  expect(build).toMatch(/push-by-digest=true/);
  expect(build).not.toMatch(/--sbom=true|--provenance=mode|--attest/);
});

test("the scan gate checks the pushed digest's media type and its own findings", () => {
  expect(releaseModel).toMatch(/aws ecr describe-images --repository-name "\$REPOSITORY" --image-ids "imageDigest=\$DIGEST" > image\.json/);
  expect(releaseModel).toMatch(/node dist\/scripts\/ci\/scan-gate\.js --image image\.json --findings findings\.json --digest "\$DIGEST"/);
});

test("provenance and SBOM are attested on GitHub for the same digest", () => {
  expect(releaseModel).toMatch(
    /uses: actions\/attest-build-provenance@v\d+[\s\S]*?subject-digest: \$\{\{ steps\.build\.outputs\.digest \}\}/,
  );
  expect(releaseModel).toMatch(/uses: actions\/attest-sbom@v\d+[\s\S]*?subject-digest: \$\{\{ steps\.build\.outputs\.digest \}\}/);
  expect(releaseModel).toMatch(/attestations: write/);
});

test("a copy to another environment's repository keeps the digest and carries the release tag", () => {
  expect(releaseEnvironment).toMatch(/skopeo copy --preserve-digests "docker:\/\/\$SOURCE@\$DIGEST" "docker:\/\/\$DEST_REPOSITORY:\$tag"/);
  expect(releaseEnvironment).not.toMatch(/imagetools create/);
});

test("every release and rollback tags the deployed digest before the release file changes", () => {
  const tag = releaseApply.indexOf('bash scripts/ci/release-tag.sh "$stack/$model" "$version" "$digest"');
  expect(tag).toBeGreaterThan(0);
  expect(tag).toBeLessThan(releaseApply.indexOf("release-file.js set"));
});

describe("the copy logs in to the source's registry with a token that registry accepts", () => {
  // The fixtures' release path: dev (eu-west-1, account 111111111111) pushes, the every-option environment
  // (eu-central-1, account 444444444444) copies: another account and another region.
  const envs = fixtureEnvironments();
  const copy = imageCopies(envs).find((c) => c.copiers.some((x) => x.region !== c.source.region && x.account !== c.source.account))!;
  const rows = ciEnvironments(envs);
  // The release pipeline's first stage: the first non-production environment serving the model (release-model.yml's first_stage).
  const source = rows.filter((r) => !r.production && r.models.split(",").includes(copy.model))[0];
  const dest = rows.find((r) => r.env === copy.copiers.find((x) => x.region !== copy.source.region)!.env)!;
  const step = workflowStepRun("release-environment.yml", "release", "image in this environment's repository (same digest)");
  const standIns = {
    // A token names the region that issued it: --region, else the job's region (configure-aws-credentials sets AWS_REGION).
    aws: 'echo "aws $*" >> "$LOG"; region=${AWS_REGION}; while [ $# -gt 0 ]; do [ "$1" = "--region" ] && region=$2; shift; done; echo "token-issued-in-$region"',
    docker: 'read -r password; echo "docker $1 $5 with $password" >> "$LOG"',
    node: 'echo "release-v4-abcdef012345"',
    skopeo: 'echo "skopeo $*" >> "$LOG"',
  };
  const run = (sourceRepository: string) =>
    runShell(step, {
      standIns,
      env: {
        AWS_REGION: dest.region,
        AWS_DEFAULT_REGION: dest.region,
        SOURCE: sourceRepository,
        DEST_REPOSITORY: `${dest.ecrRegistry}/${dest.stack}/${copy.model}`,
        VERSION: "4",
        DIGEST: `sha256:${"ab".repeat(32)}`,
      },
    });

  test("the fixture's copy crosses accounts and regions, from the release pipeline's first stage", () => {
    expect(source.env).toBe(copy.source.env);
    expect([source.region !== dest.region, source.account !== dest.account]).toEqual([true, true]);
  });

  test("each registry gets a token of its own region (a token is valid only in the region that issued it)", () => {
    const r = run(`${source.ecrRegistry}/${source.stack}/${copy.model}`);
    expect(r.code).toBe(0);
    const logins = r.calls.filter((c) => c.startsWith("docker login"));
    expect(logins).toEqual([
      `docker login ${dest.ecrRegistry} with token-issued-in-${dest.region}`,
      `docker login ${source.ecrRegistry} with token-issued-in-${source.region}`,
    ]);
    expect(r.calls).toContain(
      `skopeo copy --preserve-digests docker://${source.ecrRegistry}/${source.stack}/${copy.model}@sha256:${"ab".repeat(32)} docker://${dest.ecrRegistry}/${dest.stack}/${copy.model}:release-v4-abcdef012345`,
    );
  });

  test("a source outside ECR is refused before any login to it", () => {
    const r = run(`ghcr.io/example/${copy.model}`);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("is not in an ECR registry");
    expect(r.calls.filter((c) => c.includes("ghcr.io"))).toEqual([]);
  });
});
