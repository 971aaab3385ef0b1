/**
 * Maps an environment's configuration (`ci`, `state`, `aws`, `cluster`) onto CiRoles' props: the one
 * place where configuration meets the construct. Role names come from config/ci.ts, the same function
 * the workflows' matrix script (scripts/ci/environments.ts) prints the ARNs with.
 */
import type { EnvironmentConfig } from "../../config";
import { ciRoleNames, deployEnvironmentOf } from "../../config/ci";
import type { CiRolesProps } from ".";
import type { PropFieldMap } from "../core/prop-error";
import { stateLocation } from "../../config/state";

/** The state-bucket prefix where the plan role saves an environment's plan files for its deploy job. */
export function planFilesPrefix(config: Pick<EnvironmentConfig, "project" | "name">): string {
  return `ci-plans/${config.project}-${config.name}`;
}

/** Every Secrets Manager ARN the configuration names (the stack reads them with data sources at plan). */
export function configuredSecretArns(value: unknown, out: Set<string> = new Set()): string[] {
  if (typeof value === "string") {
    if (/^arn:aws[a-z-]*:secretsmanager:/.test(value)) out.add(value);
  } else if (Array.isArray(value)) {
    for (const v of value) configuredSecretArns(v, out);
  } else if (value && typeof value === "object") {
    for (const v of Object.values(value)) configuredSecretArns(v, out);
  }
  return [...out].sort();
}

/** The buckets the artifact store creates: the bucket, and its access-log and replica buckets when configured. */
export function artifactBucketNames(config: EnvironmentConfig): string[] {
  const name = config.artifacts.bucketName ?? `${config.project}-${config.name}-artifacts-${config.aws.accountId}`;
  return [
    name,
    ...(config.artifacts.accessLogging ? [`${name}-logs`] : []),
    ...(config.artifacts.replicationRegion ? [`${name}-replica`] : []),
  ];
}

/** The name of the workload permissions boundary (constructs/core/permissions-boundary.ts) of an environment. */
export function workloadBoundaryName(config: Pick<EnvironmentConfig, "project" | "name">): string {
  return `${config.project}-${config.name}-workload-boundary`;
}

/** CiRoles' props for an environment with a `ci` section; undefined without one. */
export function ciRolesProps(
  config: EnvironmentConfig,
  deps: { imagePushPolicyArns: string[]; workloadBoundaryArn: string; imageSourceRepositoryArns?: readonly string[] },
): CiRolesProps | undefined {
  const ci = config.ci;
  if (!ci) return undefined;
  const state = stateLocation(config);
  const buckets = artifactBucketNames(config);
  return {
    repository: ci.repository,
    oidcProvider: ci.oidcProvider,
    accountId: config.aws.accountId,
    region: config.aws.region,
    roleNames: ciRoleNames(config),
    resourcePrefix: `${config.project}-${config.name}-`,
    deployEnvironment: deployEnvironmentOf(config),
    state: state
      ? {
          bucket: state.bucket,
          key: state.key,
          region: state.region,
          planPrefix: planFilesPrefix(config),
          kmsKeyArn: state.kmsKeyArn,
          kmsAlias: state.kmsAlias,
        }
      : undefined,
    readableSecretArns: configuredSecretArns(config),
    managedBucketNames: buckets,
    forceDestroyBucketNames: config.artifacts.forceDestroy ? buckets : [],
    clusterName: config.cluster.name,
    imagePushPolicyArns: deps.imagePushPolicyArns,
    workloadBoundary: { arn: deps.workloadBoundaryArn, name: workloadBoundaryName(config) },
    stackTags: { project: config.project, environment: config.name },
    ecrRepositoryPrefix: `${config.project}-${config.name}/`,
    // Where the release pipeline copies this environment's released images from (config/image-copies.ts).
    imageSourceRepositoryArns: deps.imageSourceRepositoryArns ?? [],
    // The artifact replica's key lives in the replica's region.
    otherKeyRegions: config.artifacts.replicationRegion ? [config.artifacts.replicationRegion] : [],
    // The API domain's alias record, where the stack creates it (constructs/model-endpoint/exposure.ts).
    dnsRecords:
      config.serving.exposure === "apiGateway" && config.serving.apiGateway?.route53ZoneId && Object.keys(config.serving.models).length > 0
        ? [{ zoneId: config.serving.apiGateway.route53ZoneId, names: [config.serving.apiGateway.domain] }]
        : [],
  };
}

/** The configuration field behind each CiRoles prop {@link ciRolesProps} sets (null: derived or the stack's wiring). */
export const CI_ROLES_FIELDS: PropFieldMap = {
  repository: "ci.repository",
  oidcProvider: "ci.oidcProvider",
  accountId: "aws.accountId",
  region: "aws.region",
  "roleNames.plan": "ci.planRoleName",
  "roleNames.deploy": "ci.deployRoleName",
  "roleNames.imagePush": "ci.imagePushRoleName",
  roleNames: "ci",
  resourcePrefix: "name",
  state: "state",
  "state.planPrefix": null,
  clusterName: "cluster.name",
  maxSessionSeconds: null,
  imageSourceRepositoryArns: null,
  imagePushPolicyArns: null,
  workloadBoundary: null,
};

/** WorkloadBoundary ("workload_boundary"). */
export const WORKLOAD_BOUNDARY_FIELDS: PropFieldMap = {
  name: "name",
  bucketNames: "artifacts.bucketName",
  region: "aws.region",
};
