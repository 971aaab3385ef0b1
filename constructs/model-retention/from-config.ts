/**
 * Maps an environment's configuration (`registry.retention`, the cluster's identity) onto the ModelRetention
 * construct's props: the one place that knows which configuration field becomes which prop.
 */
import type { EnvironmentConfig } from "../../config";
import type { S3ArtifactStoreContract } from "../core/contracts";
import type { ModelRetentionProps } from ".";
import { modelRetentionPodLabels, retentionCommand } from "./command";
import type { PropFieldMap } from "../core/prop-error";
import { managedLabels } from "../core/labels";

/** The ModelRetention props of an environment; `namePrefix` is the stack's name (the IAM role's prefix). */
export function modelRetentionProps(
  config: EnvironmentConfig,
  namePrefix: string,
  deps: Pick<ModelRetentionProps, "dependsOn"> & { readonly artifactStore: S3ArtifactStoreContract; readonly artifactPrefix: string },
): ModelRetentionProps {
  return {
    namespace: config.mlflow.namespace,
    name: `${config.project}-model-retention`,
    command: retentionCommand({ config, artifactStore: deps.artifactStore }),
    schedule: config.registry.retention.schedule,
    podLabels: modelRetentionPodLabels(config),
    labels: managedLabels(config.project),
    bucketArn: deps.artifactStore.bucketArn,
    artifactPrefix: deps.artifactPrefix,
    clusterName: config.cluster.name,
    accountId: config.aws.accountId,
    region: config.aws.region,
    roleName: `${namePrefix}-model-retention`,
    identityMode: config.identity.mode,
    oidcProviderArn: config.cluster.oidcProviderArn,
    dependsOn: deps.dependsOn,
  };
}

/** The props of an API client CronJob built on constructs/api-client-cron-job.ts (its WorkloadRole included). */
export const API_CLIENT_CRON_JOB_FIELDS: PropFieldMap = {
  namespace: "mlflow.namespace",
  name: "project",
  command: null,
  podLabels: null,
  labels: null,
  bucketArn: null,
  clusterName: "cluster.name",
  accountId: "aws.accountId",
  region: "aws.region",
  roleName: "name",
  identityMode: "identity.mode",
  oidcProviderArn: "cluster.oidcProviderArn",
  serviceAccountName: null,
  deadlineSeconds: null,
  runAsUser: null,
  maxSessionDurationSeconds: null,
  inlinePolicies: null,
};

/** ModelRetention ("model_retention"). */
export const MODEL_RETENTION_FIELDS: PropFieldMap = {
  ...API_CLIENT_CRON_JOB_FIELDS,
  schedule: "registry.retention.schedule",
  artifactPrefix: "artifacts.prefix",
};
