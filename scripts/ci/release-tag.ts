/**
 * Prints the tag a release adds to the released digest in an environment's model repository (the tag no
 * lifecycle rule selects: constructs/core/ecr-rules.ts). Used by scripts/ci/release-tag.sh.
 *
 *   node dist/scripts/ci/release-tag.js --version 3 --digest sha256:<64 hex>
 */
import { releaseTag } from "../../constructs/core/ecr-rules";
import { flag, run } from "./cli";

export function main(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(s)): number {
  const version = flag(argv, "--version");
  const digest = flag(argv, "--digest");
  if (!version || !digest) {
    process.stderr.write("usage: release-tag --version <model version> --digest sha256:<64 hex>\n");
    return 2;
  }
  out(`${releaseTag(version, digest)}\n`);
  return 0;
}

if (require.main === module) run("release-tag", () => main(process.argv.slice(2)));
