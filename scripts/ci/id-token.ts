/**
 * Prints a GitHub Actions OIDC token for an audience (the job needs `permissions: id-token: write`):
 * the pipeline's identity at MLflow's proxy, which accepts it through auth.extraJwtIssuers
 * (issuer https://token.actions.githubusercontent.com, this audience). No static MLflow credential.
 *
 *   MLFLOW_TRACKING_TOKEN=$(node dist/scripts/ci/id-token.js --audience mlflow-dev)
 *
 * Masks the token in the job's log first (`::add-mask::` on stderr, which the runner also reads).
 */
import { flag, run } from "./cli";

export async function idToken(audience: string, env: NodeJS.ProcessEnv): Promise<string> {
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !bearer)
    throw new Error("no ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN: run in a GitHub Actions job with permissions id-token: write");
  const u = new URL(url);
  u.searchParams.set("audience", audience);
  const res = await fetch(u, { headers: { Authorization: `Bearer ${bearer}` } });
  if (!res.ok) throw new Error(`the token service answered ${res.status}`);
  const { value } = (await res.json()) as { value?: string };
  if (!value) throw new Error("the token service answered no token");
  return value;
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const audience = flag(argv, "--audience");
  if (!audience) {
    process.stderr.write("usage: id-token --audience <audience> (the proxy's auth.extraJwtIssuers entry for GitHub's issuer)\n");
    return 2;
  }
  const token = await idToken(audience, env);
  process.stderr.write(`::add-mask::${token}\n`);
  process.stdout.write(token);
  return 0;
}

if (require.main === module) run("id-token", () => main(process.argv.slice(2)));
