/**
 * Refuses to apply to an environment whose GitHub Environment lost its reviewers: configuration says
 * which environments deploy without a review (`ci.autoDeploy`); every other one must have the
 * `required_reviewers` protection rule in GitHub, or the deploy job stops before it assumes any role.
 *
 *   node dist/scripts/ci/environment-guard.js --environment staging --auto-deploy false
 *
 * GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN (the job's token; `actions: read`). Exit 0 allowed,
 * 1 refused (the message says what to set in GitHub), 2 bad input.
 */
import { flag, run } from "./cli";
import { github } from "./pr-comment";

interface GithubEnvironment {
  name: string;
  protection_rules?: { type: string; reviewers?: unknown[] }[];
}

export function guardDecision(env: GithubEnvironment | undefined, name: string, autoDeploy: boolean): { ok: boolean; reason: string } {
  if (autoDeploy) return { ok: true, reason: `${name}: ci.autoDeploy, no review needed` };
  const reviewers = (env?.protection_rules ?? []).filter((r) => r.type === "required_reviewers" && (r.reviewers ?? []).length > 0);
  return reviewers.length > 0
    ? { ok: true, reason: `${name}: required reviewers in place` }
    : {
        ok: false,
        reason: `GitHub Environment "${name}" has no required reviewers, but configuration does not let it deploy without a review (ci.autoDeploy is false): add reviewers in the repository's Settings > Environments > ${name}, or set ci.autoDeploy: true for a non-production environment`,
      };
}

export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const name = flag(argv, "--environment");
  const auto = flag(argv, "--auto-deploy");
  const { GITHUB_API_URL = "https://api.github.com", GITHUB_REPOSITORY, GITHUB_TOKEN } = env;
  if (!name || (auto !== "true" && auto !== "false") || !GITHUB_REPOSITORY || !GITHUB_TOKEN) {
    process.stderr.write(
      "usage: environment-guard --environment <GitHub Environment> --auto-deploy true|false (GITHUB_REPOSITORY, GITHUB_TOKEN set)\n",
    );
    return 2;
  }
  let ghEnv: GithubEnvironment | undefined;
  if (auto === "false") {
    try {
      ghEnv = await github<GithubEnvironment>(
        "GET",
        `${GITHUB_API_URL.replace(/\/$/, "")}/repos/${GITHUB_REPOSITORY}/environments/${encodeURIComponent(name)}`,
        GITHUB_TOKEN,
      );
    } catch (err) {
      if (!/: 404 /.test((err as Error).message)) throw err;
    }
  }
  const d = guardDecision(ghEnv, name, auto === "true");
  out(`environment-guard: ${d.reason}\n`);
  return d.ok ? 0 : 1;
}

if (require.main === module) run("environment-guard", () => main(process.argv.slice(2)));
