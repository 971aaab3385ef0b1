/**
 * The `ci` section of a Google Cloud environment: the GitHub repository whose workflows may act on the
 * environment's project through Workload Identity Federation (GitHub's OIDC token exchanged for a plan or
 * deploy service account's token; no service account key anywhere; docs/gcp.md#ci).
 *
 * The names are derived here, once: constructs/gcp-ci-identities creates the pool, its provider and the
 * service accounts with these ids, and scripts/ci/environments.ts prints the provider's resource name and
 * the accounts' e-mails into the workflows' matrix, so the two can never disagree.
 */
import { z } from "zod";
import { serviceAccountIdProblem, workloadIdentityIdProblem } from "../constructs/core/gcp-limits";
import { ciSchema } from "./ci";

/** The id of GitHub's provider in the environment's pool (one provider per pool). */
export const GITHUB_PROVIDER_ID = "github";
/** Google's limit on `google.subject` (the GitHub subject it is mapped from): https://cloud.google.com/iam/docs/workload-identity-federation#mapping */
export const GOOGLE_SUBJECT_MAX_BYTES = 127;

const optionalId = (problem: (v: string) => string | undefined) =>
  z
    .string()
    .superRefine((v, ctx) => {
      const p = problem(v);
      if (p) ctx.addIssue({ code: "custom", message: p });
    })
    .optional();

export const gcpCiSchema = z
  .object({
    repository: ciSchema.shape.repository.describe(
      "The GitHub repository (\"owner/name\") whose workflows may act as this environment's CI service accounts: the pool's provider accepts no other repository's token.",
    ),
    projectNumber: z
      .string()
      .regex(/^[1-9]\d{5,19}$/, {
        error: "the project's number (digits): gcloud projects describe <gcp.projectId> --format='value(projectNumber)'",
      })
      .describe(
        "The number of gcp.projectId (`gcloud projects describe <id> --format='value(projectNumber)'`): the workflows name the Workload Identity provider by it, as Google's token exchange requires. The bootstrap checks it.",
      ),
    deployEnvironment: ciSchema.shape.deployEnvironment.describe(
      "The GitHub Environment whose jobs may act as the deploy service account (the OIDC subject `repo:<repository>:environment:<name>`). Defaults to the environment's name. Give it required reviewers in GitHub for every environment that must wait for an approval.",
    ),
    autoDeploy: ciSchema.shape.autoDeploy,
    workloadIdentityPoolId: optionalId((v) => workloadIdentityIdProblem(v, "pool")).describe(
      "Id of the Workload Identity pool holding GitHub's provider; defaults to `<project>-<env>-github` (shortened to 32 characters). Google keeps a deleted pool's id for 30 days: a recreated pool needs another id.",
    ),
    planServiceAccountId: optionalId(serviceAccountIdProblem).describe(
      "Id of the read-only service account pull-request plans and the drift check act as; defaults to `<project>-<env>-ci-plan` (shortened to 30 characters).",
    ),
    deployServiceAccountId: optionalId(serviceAccountIdProblem).describe(
      "Id of the service account that applies a reviewed plan; defaults to `<project>-<env>-ci-deploy` (shortened to 30 characters).",
    ),
  })
  .strict();

export type GcpCiConfig = z.output<typeof gcpCiSchema>;

/** The part of a GCP environment's configuration the CI names are derived from. */
export interface GcpCiNaming {
  readonly name: string;
  readonly project: string;
  readonly production?: boolean;
  readonly gcp: { readonly projectId: string };
  readonly ci?: GcpCiConfig;
}

/** The ids of the pool, its provider and the two service accounts. */
export interface GcpCiNames {
  readonly pool: string;
  readonly provider: string;
  readonly planServiceAccountId: string;
  readonly deployServiceAccountId: string;
}

/** `<project>-<env>` cut to `max` characters, without a trailing hyphen, then `suffix`. */
const derived = (env: GcpCiNaming, max: number, suffix: string) =>
  `${env.project}-${env.name}`.slice(0, max - suffix.length).replace(/-+$/, "") + suffix;

/** Ids from configuration, or derived from project and environment name. */
export function gcpCiNames(env: GcpCiNaming): GcpCiNames {
  return {
    pool: env.ci?.workloadIdentityPoolId ?? derived(env, 32, "-github"),
    provider: GITHUB_PROVIDER_ID,
    planServiceAccountId: env.ci?.planServiceAccountId ?? derived(env, 30, "-ci-plan"),
    deployServiceAccountId: env.ci?.deployServiceAccountId ?? derived(env, 30, "-ci-deploy"),
  };
}

/** The GitHub Environment the deploy jobs of this environment run in. */
export function gcpDeployEnvironmentOf(env: GcpCiNaming): string {
  return env.ci?.deployEnvironment ?? env.name;
}

/** What the workflows authenticate with (google-github-actions/auth's inputs). */
export interface GcpCiIdentities {
  /** `projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/github`. */
  readonly workloadIdentityProvider: string;
  readonly planServiceAccount: string;
  readonly deployServiceAccount: string;
}

/** The provider's resource name and the service accounts' e-mails; undefined without `ci`. */
export function gcpCiIdentities(env: GcpCiNaming): GcpCiIdentities | undefined {
  if (!env.ci) return undefined;
  const n = gcpCiNames(env);
  const email = (id: string) => `${id}@${env.gcp.projectId}.iam.gserviceaccount.com`;
  return {
    workloadIdentityProvider: `projects/${env.ci.projectNumber}/locations/global/workloadIdentityPools/${n.pool}/providers/${n.provider}`,
    planServiceAccount: email(n.planServiceAccountId),
    deployServiceAccount: email(n.deployServiceAccountId),
  };
}

/** The GitHub OIDC subjects each service account accepts (as constructs/ci-roles' for AWS). */
export function gcpCiSubjects(repository: string, deployEnvironment: string, mainBranch = "main"): { plan: string[]; deploy: string[] } {
  return {
    plan: [`repo:${repository}:pull_request`, `repo:${repository}:ref:refs/heads/${mainBranch}`],
    deploy: [`repo:${repository}:environment:${deployEnvironment}`],
  };
}

/** Cross-field problems of a GCP environment's `ci` section (path from the environment, message "expected ..."). */
export function gcpCiProblems(env: GcpCiNaming): { path: (string | number)[]; message: string }[] {
  const ci = env.ci;
  if (!ci) return [];
  const out: { path: (string | number)[]; message: string }[] = [];
  if (env.production && ci.autoDeploy)
    out.push({
      path: ["ci", "autoDeploy"],
      message: "false in a production environment: its deploy waits for a reviewer of the GitHub Environment",
    });
  const n = gcpCiNames(env);
  const derivedIds: [keyof GcpCiConfig, string | undefined][] = [
    ["workloadIdentityPoolId", ci.workloadIdentityPoolId === undefined ? workloadIdentityIdProblem(n.pool, "pool") : undefined],
    ["planServiceAccountId", ci.planServiceAccountId === undefined ? serviceAccountIdProblem(n.planServiceAccountId) : undefined],
    ["deployServiceAccountId", ci.deployServiceAccountId === undefined ? serviceAccountIdProblem(n.deployServiceAccountId) : undefined],
  ];
  for (const [field, p] of derivedIds)
    if (p) out.push({ path: ["ci", field], message: `${p}: the id derived from project and name is not one; set ci.${field}` });
  if (n.planServiceAccountId === n.deployServiceAccountId)
    out.push({ path: ["ci", "deployServiceAccountId"], message: `another id than ci.planServiceAccountId ("${n.planServiceAccountId}")` });
  const subjects = gcpCiSubjects(ci.repository, gcpDeployEnvironmentOf(env));
  const long = [...subjects.plan, ...subjects.deploy].find((s) => Buffer.byteLength(s) > GOOGLE_SUBJECT_MAX_BYTES);
  if (long)
    out.push({
      path: ["ci", long.includes(":environment:") && ci.deployEnvironment !== undefined ? "deployEnvironment" : "repository"],
      message: `a GitHub subject of at most ${GOOGLE_SUBJECT_MAX_BYTES} bytes (Google's limit on google.subject): "${long}" has ${Buffer.byteLength(long)}`,
    });
  return out;
}
