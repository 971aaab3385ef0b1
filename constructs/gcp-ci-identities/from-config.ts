/**
 * Maps a GCP environment's configuration (`ci`, `state`, `gcp`, `artifacts`) onto GcpCiIdentities' props. The
 * ids come from config/gcp-ci.ts, the same functions the workflows' matrix (scripts/ci/environments.ts) prints
 * the provider's name and the accounts' e-mails with.
 */
import { gcpArtifactBucketName, type GcpEnvironmentConfig } from "../../config/gcp";
import { gcpCiNames, gcpDeployEnvironmentOf } from "../../config/gcp-ci";
import type { GcpCiIdentitiesProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

/** The state-bucket prefix where the plan account saves an environment's plan files (as on AWS: ci-plans/<stack>). */
export function gcpPlanFilesPrefix(config: Pick<GcpEnvironmentConfig, "project" | "name">): string {
  return `ci-plans/${config.project}-${config.name}`;
}

/** The gcs backend's state location of a GCP environment; undefined with local state. */
export function gcsStateLocation(config: Pick<GcpEnvironmentConfig, "name" | "state">): { bucket: string; prefix: string } | undefined {
  const s = config.state;
  return s.backend === "gcs" ? { bucket: s.bucket, prefix: s.prefix.replaceAll("{env}", config.name) } : undefined;
}

/** GcpCiIdentities' props for a GCP environment with a `ci` section; undefined without one. */
export function gcpCiIdentitiesProps(config: GcpEnvironmentConfig): GcpCiIdentitiesProps | undefined {
  const ci = config.ci;
  if (!ci) return undefined;
  const names = gcpCiNames(config);
  const state = gcsStateLocation(config);
  return {
    projectId: config.gcp.projectId,
    repository: ci.repository,
    poolId: names.pool,
    providerId: names.provider,
    planServiceAccountId: names.planServiceAccountId,
    deployServiceAccountId: names.deployServiceAccountId,
    deployEnvironment: gcpDeployEnvironmentOf(config),
    state: state ? { ...state, planPrefix: gcpPlanFilesPrefix(config) } : undefined,
    managedBucketNames: [config.artifacts.bucketName ?? gcpArtifactBucketName(config)],
    // Custom role ids take no hyphen.
    planSecretsRoleId: `${config.project}_${config.name}_ci_plan_secrets`.replace(/-/g, "_"),
  };
}

/** GcpCiIdentities ("ci_identities"). */
export const GCP_CI_IDENTITIES_FIELDS: PropFieldMap = {
  projectId: "gcp.projectId",
  repository: "ci.repository",
  poolId: "ci.workloadIdentityPoolId",
  providerId: null,
  planServiceAccountId: "ci.planServiceAccountId",
  deployServiceAccountId: "ci.deployServiceAccountId",
  deployEnvironment: "ci.deployEnvironment",
  state: "state",
  "state.planPrefix": null,
  managedBucketNames: "artifacts.bucketName",
  planSecretsRoleId: "name",
  deployProjectRoles: null,
};
