/**
 * The environments the pipelines act on, computed from configuration (never listed in a workflow):
 *
 *   node dist/scripts/ci/environments.js                  # {"include":[{env, stack, cloud, region, ...}, ...]}
 *   node dist/scripts/ci/environments.js --only staging   # one environment (release pipeline)
 *   node dist/scripts/ci/environments.js --github-output  # also `matrix=<json>` into $GITHUB_OUTPUT
 *   node dist/scripts/ci/environments.js --release-model iris [--github-output]   # the model release's path
 *
 * Every row says its `cloud` and carries that cloud's credential inputs, which the workflows' login steps
 * read (one step per cloud, each with `if: matrix.cloud == '<cloud>'`):
 * - aws: `planRoleArn` / `deployRoleArn` / `imagePushRoleArn` and `region` (aws-actions/configure-aws-credentials),
 *   config/ci.ts's `ciRoleArns`, the same names constructs/ci-roles creates;
 * - gcp: `workloadIdentityProvider` and `planServiceAccount` / `deployServiceAccount` (google-github-actions/auth),
 *   config/gcp-ci.ts's `gcpCiIdentities`, the same ids constructs/gcp-ci-identities creates;
 * - azure: `tenantId`, `subscriptionId` and `planClientId` / `deployClientId` (azure/login with OIDC, and Terraform's
 *   ARM_* variables through scripts/ci/azure-terraform-env.sh), the client ids of the identities
 *   constructs/azure-ci-identities creates, which the bootstrap prints into ci.planClientId / ci.deployClientId.
 * Another cloud adds its own row type here and its own login step; the other steps do not change.
 */
import * as fs from "fs";
import { loadAllEnvironments, type AnyEnvironmentConfig, type EnvironmentConfig, type GcpEnvironmentConfig } from "../../config";
import type { AzureEnvironmentConfig } from "../../config/azure";
import { azureDeployEnvironmentOf } from "../../config/azure-ci";
import { azurePlanFilesPrefix, azurermStateLocation } from "../../constructs/azure-ci-identities/from-config";
import { ciRoleArns, deployEnvironmentOf } from "../../config/ci";
import { gcpCiIdentities, gcpDeployEnvironmentOf } from "../../config/gcp-ci";
import { planFilesPrefix } from "../../constructs/ci-roles/from-config";
import { gcpPlanFilesPrefix, gcsStateLocation } from "../../constructs/gcp-ci-identities/from-config";
import { stateLocation } from "../../config/state";

/** What every row has, whatever the cloud. */
interface CiEnvironmentBase {
  /** Environment name (`config/environments.ts`). */
  readonly env: string;
  /** Its stack, and its folder under cdktf.out/stacks. */
  readonly stack: string;
  /** Which cloud: which login step the jobs take, and how they store plan files (scripts/ci/plan-store.sh). */
  readonly cloud: "aws" | "gcp" | "azure";
  /** The environment's region (aws.region, gcp.region, azure.location). */
  readonly region: string;
  readonly production: boolean;
  /** Apply on merge without a reviewer. */
  readonly autoDeploy: boolean;
  /** The GitHub Environment of its deploy and release jobs. */
  readonly githubEnvironment: string;
  /**
   * Where the plan job saves the plan file the deploy job applies: s3://bucket/prefix, gs://bucket/prefix or
   * https://<account>.blob.core.windows.net/<container>/<prefix>.
   */
  readonly planStore: string;
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

/** A row of an AWS environment: the roles aws-actions/configure-aws-credentials assumes. */
export interface AwsCiEnvironment extends CiEnvironmentBase {
  readonly cloud: "aws";
  readonly account: string;
  readonly planRoleArn: string;
  readonly deployRoleArn: string;
  readonly imagePushRoleArn: string;
  /** Region of the state bucket. */
  readonly stateRegion: string;
  /** The KMS key (key or alias ARN) of the state bucket: the plan file is encrypted with it too. */
  readonly stateKmsKey: string;
  /** The model images' registry host. */
  readonly ecrRegistry: string;
}

/** A row of a GCP environment: google-github-actions/auth's inputs. */
export interface GcpCiEnvironment extends CiEnvironmentBase {
  readonly cloud: "gcp";
  /** The Google Cloud project (gcp.projectId). */
  readonly project: string;
  /** `projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/github`. */
  readonly workloadIdentityProvider: string;
  readonly planServiceAccount: string;
  readonly deployServiceAccount: string;
}

/** A row of an Azure environment: azure/login's inputs (OIDC, no client secret). */
export interface AzureCiEnvironment extends CiEnvironmentBase {
  readonly cloud: "azure";
  readonly tenantId: string;
  readonly subscriptionId: string;
  /** The environment's resource group (azure.resourceGroupName). */
  readonly resourceGroup: string;
  /** Client id of the plan identity (ci.planClientId). */
  readonly planClientId: string;
  /** Client id of the deploy identity (ci.deployClientId). */
  readonly deployClientId: string;
}

/** One row of the workflows' matrix. */
export type CiEnvironment = AwsCiEnvironment | GcpCiEnvironment | AzureCiEnvironment;

/** GitHub Actions' token issuer, as auth.extraJwtIssuers names it. */
export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";

export class CiConfigError extends Error {}

const githubAudienceOf = (e: AnyEnvironmentConfig) =>
  e.auth.extraJwtIssuers.find((j) => j.issuer.replace(/\/$/, "") === GITHUB_ISSUER)?.audience ?? "";

function awsRow(e: EnvironmentConfig, problems: string[]): AwsCiEnvironment | undefined {
  if (!e.ci) {
    problems.push(
      `environment "${e.name}": field ci is missing: expected the GitHub repository whose workflows plan and deploy it (ci.repository, usually set once in shared)`,
    );
    return undefined;
  }
  if (e.state.backend !== "s3") {
    problems.push(
      `environment "${e.name}": field state.backend = "local": expected "s3" for an environment the pipelines plan and deploy (a runner's local state is lost when the job ends)`,
    );
    return undefined;
  }
  const arns = ciRoleArns(e);
  const state = stateLocation(e)!;
  const stack = `${e.project}-${e.name}`;
  const dnsSuffix = e.aws.region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  return {
    env: e.name,
    stack,
    cloud: "aws",
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
    githubTokenAudience: githubAudienceOf(e),
  };
}

function gcpRow(e: GcpEnvironmentConfig, problems: string[]): GcpCiEnvironment | undefined {
  const ids = gcpCiIdentities(e);
  if (!e.ci || !ids) {
    problems.push(
      `environment "${e.name}": field ci is missing: expected a ci section in the GCP environment's own entry (ci.repository, ci.projectNumber: docs/gcp.md#ci); one in shared is the AWS environments'`,
    );
    return undefined;
  }
  const state = gcsStateLocation(e);
  if (!state) {
    problems.push(
      `environment "${e.name}": field state.backend = "local": expected "gcs" for an environment the pipelines plan and deploy (a runner's local state is lost when the job ends)`,
    );
    return undefined;
  }
  return {
    env: e.name,
    stack: `${e.project}-${e.name}`,
    cloud: "gcp",
    region: e.gcp.region,
    project: e.gcp.projectId,
    production: e.production,
    autoDeploy: e.ci.autoDeploy && !e.production,
    githubEnvironment: gcpDeployEnvironmentOf(e),
    workloadIdentityProvider: ids.workloadIdentityProvider,
    planServiceAccount: ids.planServiceAccount,
    deployServiceAccount: ids.deployServiceAccount,
    planStore: `gs://${state.bucket}/${gcpPlanFilesPrefix(e)}`,
    trackingUri: `https://${e.hostname}`,
    // Refused on GCP by configuration (config/gcp.ts): no registry events, no served model, so no model release.
    registry: e.events.enabled,
    servingNamespace: e.serving.namespace,
    models: Object.keys(e.serving.models).join(","),
    githubTokenAudience: githubAudienceOf(e),
  };
}

function azureRow(e: AzureEnvironmentConfig, problems: string[]): AzureCiEnvironment | undefined {
  if (!e.ci) {
    problems.push(
      `environment "${e.name}": field ci is missing: expected a ci section in the Azure environment's own entry (ci.repository: docs/azure.md#ci); one in shared is the AWS environments'`,
    );
    return undefined;
  }
  const missing = (["planClientId", "deployClientId"] as const).filter((f) => e.ci![f] === undefined);
  if (missing.length > 0) {
    problems.push(
      `environment "${e.name}": field ci.${missing[0]} is missing: expected the client id${missing.length > 1 ? "s" : ""} of the ${missing.map((f) => f.replace("ClientId", "")).join(" and ")} identit${missing.length > 1 ? "ies" : "y"} (Azure assigns them when npm run bootstrap -- ${e.name} creates them; it prints them: docs/azure.md#ci)`,
    );
    return undefined;
  }
  const state = azurermStateLocation(e);
  if (!state) {
    problems.push(
      `environment "${e.name}": field state.backend = "local": expected "azurerm" for an environment the pipelines plan and deploy (a runner's local state is lost when the job ends)`,
    );
    return undefined;
  }
  return {
    env: e.name,
    stack: `${e.project}-${e.name}`,
    cloud: "azure",
    region: e.azure.location,
    tenantId: e.azure.tenantId,
    subscriptionId: e.azure.subscriptionId,
    resourceGroup: e.azure.resourceGroupName,
    production: e.production,
    autoDeploy: e.ci.autoDeploy && !e.production,
    githubEnvironment: azureDeployEnvironmentOf(e),
    planClientId: e.ci.planClientId!,
    deployClientId: e.ci.deployClientId!,
    planStore: `https://${state.storageAccountName}.blob.core.windows.net/${state.containerName}/${azurePlanFilesPrefix(e)}`,
    trackingUri: `https://${e.hostname}`,
    // No registry events on Azure (config/azure.ts refuses them); its served models are released by hand (releasePath
    // names the row in byHand: docs/azure.md#model-serving).
    registry: e.events.enabled,
    servingNamespace: e.serving.namespace,
    models: Object.keys(e.serving.models).join(","),
    githubTokenAudience: githubAudienceOf(e),
  };
}

/** The matrix rows of every environment, in configuration order. */
export function ciEnvironments(envs: readonly EnvironmentConfig[]): AwsCiEnvironment[];
export function ciEnvironments(envs: readonly AnyEnvironmentConfig[]): CiEnvironment[];
export function ciEnvironments(envs: readonly AnyEnvironmentConfig[]): CiEnvironment[] {
  const problems: string[] = [];
  const rows: CiEnvironment[] = [];
  for (const e of envs) {
    let row: CiEnvironment | undefined;
    switch (e.cloud) {
      case "aws":
        row = awsRow(e, problems);
        break;
      case "gcp":
        row = gcpRow(e, problems);
        break;
      case "azure":
        row = azureRow(e, problems);
        break;
      default: {
        // A cloud whose configuration refuses `ci` (no pipeline identity to log in with) is left out, said on stderr.
        const other: { name: string; cloud: string } = e;
        process.stderr.write(
          `environments: environment "${other.name}" (cloud ${other.cloud}) is left out: the pipelines do not handle that cloud yet\n`,
        );
      }
    }
    if (row) rows.push(row);
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
  all: readonly CiEnvironment[],
  model: string,
): { registry: AwsCiEnvironment; stage: AwsCiEnvironment[]; production: AwsCiEnvironment[]; byHand: CiEnvironment[] } {
  // The pipeline's image build, scan gate, copies and release steps are AWS's (ECR, the image-push role). An
  // environment of another cloud serving the model is named in `byHand`: its release is written by hand
  // (serving.releases, with the digest pushed to its own registry), never skipped without a word. An events service on GCP or Azure notifies its
  // channels, but no release starts from its registry yet: only AWS rows are a release's registry.
  const rows = all.filter((r): r is AwsCiEnvironment => r.cloud === "aws");
  const byHand = all.filter((r) => r.cloud !== "aws" && r.models.split(",").includes(model));
  const registries = rows.filter((r) => r.registry);
  if (registries.length !== 1) {
    throw new CiConfigError(
      `the model release pipeline reads the registry of the one environment running the events service (events.enabled); ${registries.length === 0 ? "none does" : `${registries.map((r) => r.env).join(", ")} do`}`,
    );
  }
  const serving = rows.filter((r) => r.models.split(",").includes(model));
  return {
    registry: registries[0],
    stage: serving.filter((r) => !r.production),
    production: serving.filter((r) => r.production),
    byHand,
  };
}

/** Command line: see the header. Returns the exit code. */
export function main(
  argv: readonly string[],
  envs: () => AnyEnvironmentConfig[] = loadAllEnvironments,
  out: (s: string) => void = (s) => process.stdout.write(s),
): number {
  const releaseModel = argv.indexOf("--release-model") >= 0 ? argv[argv.indexOf("--release-model") + 1] : undefined;
  if (releaseModel !== undefined) {
    try {
      const p = releasePath(ciEnvironments(envs()), releaseModel);
      const json = { registry: p.registry, stage: { include: p.stage }, production: { include: p.production } };
      out(`${JSON.stringify(json)}\n`);
      for (const r of p.byHand)
        process.stderr.write(
          `environments: "${r.env}" (cloud ${r.cloud}) serves ${releaseModel} but this pipeline releases to AWS environments only: push the image to its registry and write serving.releases.${releaseModel} by hand (docs/${r.cloud}.md)\n`,
        );
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
