/**
 * What the release pipeline deploys is what it scanned and what the repository keeps: the image is one
 * manifest pushed by digest (an image index would go unscanned by ECR's basic scanning), the scan gate
 * reads the findings of that digest, copies keep the digest, and every environment's release tags it with
 * the tag no lifecycle rule selects (constructs/model-endpoint/ecr-rules.ts).
 */
import * as fs from "fs";
import * as path from "path";

const ROOT = path.join(__dirname, "..", "..");
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), "utf8").split("\n").filter((l) => !l.trimStart().startsWith("#")).join("\n");
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
  expect(releaseModel).toMatch(/uses: actions\/attest-build-provenance@v\d+[\s\S]*?subject-digest: \$\{\{ steps\.build\.outputs\.digest \}\}/);
  expect(releaseModel).toMatch(/uses: actions\/attest-sbom@v\d+[\s\S]*?subject-digest: \$\{\{ steps\.build\.outputs\.digest \}\}/);
  expect(releaseModel).toMatch(/attestations: write/);
});

test("a copy to another environment's repository keeps the digest and carries the release tag", () => {
  expect(releaseEnvironment).toMatch(/skopeo copy --preserve-digests "docker:\/\/\$SOURCE@\$DIGEST" "docker:\/\/\$DEST_REPOSITORY:\$tag"/);
  expect(releaseEnvironment).not.toMatch(/imagetools create/);
});

test("every release and rollback tags the deployed digest before the release file changes", () => {
  const tag = releaseApply.indexOf("bash scripts/ci/release-tag.sh \"$stack/$model\" \"$version\" \"$digest\"");
  expect(tag).toBeGreaterThan(0);
  expect(tag).toBeLessThan(releaseApply.indexOf("release-file.js set"));
});
