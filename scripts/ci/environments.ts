/**
 * The environments the pipelines act on, computed from configuration (never listed in a workflow):
 *
 *   node dist/scripts/ci/environments.js                  # {"include":[{env, stack, region, ...}, ...]}
 *   node dist/scripts/ci/environments.js --only staging   # one environment (release pipeline)
 *   node dist/scripts/ci/environments.js --github-output  # also `matrix=<json>` into $GITHUB_OUTPUT
 *   node dist/scripts/ci/environments.js --release-model iris [--github-output]   # the model release's path
 *
 * The role ARNs are config/ci.ts's `ciRoleArns`, the same names constructs/ci-roles creates.
 */
import * as fs from "fs";
import { loadEnvironments, type EnvironmentConfig } from "../../config";
import { ciRoleArns, deployEnvironmentOf } from "../../config/ci";
import { planFilesPrefix } from "../../constructs/ci-roles/from-config";
import { stateLocation } from "../../config/state";

/** One row of the workflows' matrix. */
export interface CiEnvironment {
  /** Environment name (`config/environments.ts`). */
  readonly env: string;
  /** Its stack, and its folder under cdktf.out/stacks. */
  readonly stack: string;
  readonly region: string;
  readonly account: string;
  readonly production: boolean;
  /** Apply on merge without a reviewer. */
  readonly autoDeploy: boolean;
  /** The GitHub Environment of its deploy and release jobs. */
  readonly githubEnvironment: string;
  readonly planRoleArn: string;
  readonly deployRoleArn: string;
  readonly imagePushRoleArn: string;
  /** Where the plan job saves the plan file the deploy job applies (s3://bucket/prefix). */
  readonly planStore: string;
  /** Region of the state bucket. */
  readonly stateRegion: string;
  /** The KMS key (key or alias ARN) of the state bucket: the plan file is encrypted with it too. */
  readonly stateKmsKey: string;
  /** The model images' registry host. */
  readonly ecrRegistry: string;
  /** The tracking server's public URL (behind the proxy). */
  readonly trackingUri: string;
  /** Runs the registry events service: the registry models are released from. */
  readonly registry: boolean;
  /** Namespace of its model servers (serving.namespace); a model's Deployment is `<stack>-<model>`. */
  readonly servingNamespace: string;
  /** The models it serves (serving.models), comma-separated. */
  readonly models: string;
  /** The audience the proxy accepts on GitHub Actions' OIDC tokens (auth.extraJwtIssuers), or "" if it accepts none. */
  readonly githubTokenAudience: string;
}

/** GitHub Actions' token issuer, as auth.extraJwtIssuers names it. */
export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";

export class CiConfigError extends Error {}

/** The matrix rows of every environment, in configuration order. */
export function ciEnvironments(envs: readonly EnvironmentConfig[]): CiEnvironment[] {
  const problems: string[] = [];
  const rows: CiEnvironment[] = [];
  for (const e of envs) {
    if (!e.ci) {
      problems.push(
        `environment "${e.name}": field ci is missing: expected the GitHub repository whose workflows plan and deploy it (ci.repository, usually set once in shared)`,
      );
      continue;
    }
    if (e.state.backend !== "s3") {
      problems.push(
        `environment "${e.name}": field state.backend = "local": expected "s3" for an environment the pipelines plan and deploy (a runner's local state is lost when the job ends)`,
      );
      continue;
    }
    const arns = ciRoleArns(e);
    const state = stateLocation(e)!;
    const stack = `${e.project}-${e.name}`;
    const dnsSuffix = e.aws.region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
    rows.push({
      env: e.name,
      stack,
      region: e.aws.region,
      account: e.aws.accountId,
      production: e.production,
      autoDeploy: e.ci.autoDeploy && !e.production,
      githubEnvironment: deployEnvironmentOf(e),
      planRoleArn: arns.plan,
      deployRoleArn: arns.deploy,
      imagePushRoleArn: arns.imagePush,
      planStore: `s3://${state.bucket}/${planFilesPrefix(e)}`,
      stateRegion: state.region,
      stateKmsKey: state.kmsKeyArn,
      ecrRegistry: `${e.aws.accountId}.dkr.ecr.${e.aws.region}.${dnsSuffix}`,
      trackingUri: `https://${e.hostname}`,
      registry: e.events.enabled,
      servingNamespace: e.serving.namespace,
      models: Object.keys(e.serving.models).join(","),
      githubTokenAudience: e.auth.extraJwtIssuers.find((j) => j.issuer.replace(/\/$/, "") === GITHUB_ISSUER)?.audience ?? "",
    });
  }
  if (problems.length > 0) throw new CiConfigError(problems.join("\n"));
  return rows;
}

/**
 * Where a model's release goes: the registry it comes from (the environment running the events
 * service), then every environment serving it, non-production ones first (automatic), production ones
 * after their GitHub Environment's approval.
 */
export function releasePath(
  rows: readonly CiEnvironment[],
  model: string,
): { registry: CiEnvironment; stage: CiEnvironment[]; production: CiEnvironment[] } {
  const registries = rows.filter((r) => r.registry);
  if (registries.length !== 1) {
    throw new CiConfigError(
      `the model release pipeline reads the registry of the one environment running the events service (events.enabled); ${registries.length === 0 ? "none does" : `${registries.map((r) => r.env).join(", ")} do`}`,
    );
  }
  const serving = rows.filter((r) => r.models.split(",").includes(model));
  return { registry: registries[0], stage: serving.filter((r) => !r.production), production: serving.filter((r) => r.production) };
}

/** Command line: see the header. Returns the exit code. */
export function main(
  argv: readonly string[],
  envs: () => EnvironmentConfig[] = loadEnvironments,
  out: (s: string) => void = (s) => process.stdout.write(s),
): number {
  const releaseModel = argv.indexOf("--release-model") >= 0 ? argv[argv.indexOf("--release-model") + 1] : undefined;
  if (releaseModel !== undefined) {
    try {
      const p = releasePath(ciEnvironments(envs()), releaseModel);
      const json = { registry: p.registry, stage: { include: p.stage }, production: { include: p.production } };
      out(`${JSON.stringify(json)}\n`);
      if (argv.includes("--github-output") && process.env.GITHUB_OUTPUT) {
        fs.appendFileSync(
          process.env.GITHUB_OUTPUT,
          [
            `registry_uri=${p.registry.trackingUri}`,
            `registry_env=${p.registry.env}`,
            `audience=${p.registry.githubTokenAudience}`,
            `stage=${JSON.stringify(json.stage)}`,
            `production=${JSON.stringify(json.production)}`,
            `stage_count=${p.stage.length}`,
            `production_count=${p.production.length}`,
            `first_stage=${JSON.stringify(p.stage[0] ?? null)}`,
          ].join("\n") + "\n",
        );
      }
      return 0;
    } catch (err) {
      process.stderr.write(`environments: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const onlyAt = argv.indexOf("--only");
  const only = onlyAt >= 0 ? argv[onlyAt + 1] : undefined;
  let rows: CiEnvironment[];
  try {
    rows = ciEnvironments(envs());
  } catch (err) {
    process.stderr.write(`environments: ${(err as Error).message}\n`);
    return 1;
  }
  if (only !== undefined) {
    rows = rows.filter((r) => r.env === only);
    if (rows.length === 0) {
      process.stderr.write(
        `environments: --only ${only}: no such environment; expected one of ${ciEnvironments(envs())
          .map((r) => r.env)
          .join(", ")}\n`,
      );
      return 2;
    }
  }
  const json = JSON.stringify({ include: rows });
  out(`${json}\n`);
  if (argv.includes("--github-output")) {
    const file = process.env.GITHUB_OUTPUT;
    if (!file) {
      process.stderr.write("environments: --github-output needs $GITHUB_OUTPUT (set by GitHub Actions)\n");
      return 2;
    }
    fs.appendFileSync(file, `matrix=${json}\n`);
    if (only !== undefined) for (const [k, v] of Object.entries(rows[0])) fs.appendFileSync(file, `${k}=${String(v)}\n`);
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
