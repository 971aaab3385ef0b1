/**
 * Maps an environment's configuration (`registry.retention`, the cluster's identity) onto the ModelRetention
 * construct's props: the one place that knows which configuration field becomes which prop.
 */
import type { EnvironmentConfig } from "../../config";
import type { S3ArtifactStoreContract } from "../core/contracts";
import type { AzureModelRetentionProps, GcpModelRetentionProps, ModelRetentionProps } from ".";
import type { GcpEnvironmentConfig } from "../../config/gcp";
import { azureResourceNames, azureTags, type AzureEnvironmentConfig } from "../../config/azure";
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

/** The Kubernetes half of the job, the same on every cloud. */
function cronJobProps(config: GcpEnvironmentConfig | AzureEnvironmentConfig, artifactStore: { readonly destinationUri: string }) {
  return {
    namespace: config.mlflow.namespace,
    name: `${config.project}-model-retention`,
    command: retentionCommand({ config, artifactStore }),
    schedule: config.registry.retention.schedule,
    podLabels: modelRetentionPodLabels(config),
    labels: managedLabels(config.project),
  };
}

/** The GcpModelRetention props of a GCP environment: its own Google service account and custom role. */
export function gcpModelRetentionProps(
  config: GcpEnvironmentConfig,
  deps: Pick<GcpModelRetentionProps, "bucketName" | "artifactPrefix" | "dependsOn" | "storeDependsOn"> & {
    readonly artifactStore: { readonly destinationUri: string };
  },
): GcpModelRetentionProps {
  const { artifactStore, ...rest } = deps;
  return {
    ...cronJobProps(config, artifactStore),
    projectId: config.gcp.projectId,
    // "<project>-<env>-retention", within the 30 characters a service account id may have.
    googleServiceAccountId: `${config.project}-${config.name}`.slice(0, 20).replace(/-+$/, "") + "-retention",
    // Unique in the project: one per environment (custom role ids allow letters, digits, '_' and '.').
    customRoleId: `${config.project}_${config.name}_model_retention`.replace(/[^a-zA-Z0-9_.]/g, "_").slice(0, 64),
    ...rest,
  };
}

/** The AzureModelRetention props of an Azure environment: its own managed identity and custom role. */
export function azureModelRetentionProps(
  config: AzureEnvironmentConfig,
  deps: Pick<
    AzureModelRetentionProps,
    "oidcIssuerUrl" | "containerScope" | "containerName" | "artifactPrefix" | "dependsOn" | "storeDependsOn"
  > & {
    readonly artifactStore: { readonly destinationUri: string };
  },
): AzureModelRetentionProps {
  const { artifactStore, ...rest } = deps;
  const az = config.azure;
  const stack = azureResourceNames(config).stack;
  return {
    ...cronJobProps(config, artifactStore),
    identityName: `${stack}-model-retention`,
    resourceGroupName: az.resourceGroupName,
    location: az.location,
    // Role names are unique in the tenant: the stack's name (organisation, project, environment) makes it so.
    roleDefinition: {
      name: `${stack}-model-retention`,
      scope: `/subscriptions/${az.subscriptionId}/resourceGroups/${az.resourceGroupName}`,
    },
    tags: azureTags(config),
    ...rest,
  };
}

/** The Kubernetes props every cloud's retention job shares. */
const CRON_JOB_WORKLOAD_FIELDS: PropFieldMap = {
  namespace: "mlflow.namespace",
  name: "project",
  command: null,
  schedule: "registry.retention.schedule",
  podLabels: null,
  labels: null,
  runAsUser: null,
  deadlineSeconds: null,
  resources: null,
  dependsOn: null,
  artifactPrefix: "artifacts.prefix",
  storeDependsOn: null,
};

/** GcpModelRetention ("model_retention"). */
export const GCP_MODEL_RETENTION_FIELDS: PropFieldMap = {
  ...CRON_JOB_WORKLOAD_FIELDS,
  projectId: "gcp.projectId",
  googleServiceAccountId: "name",
  customRoleId: "name",
  bucketName: "artifacts.bucketName",
};

/** AzureModelRetention ("model_retention"). */
export const AZURE_MODEL_RETENTION_FIELDS: PropFieldMap = {
  ...CRON_JOB_WORKLOAD_FIELDS,
  identityName: "name",
  resourceGroupName: "azure.resourceGroupName",
  location: "azure.location",
  oidcIssuerUrl: "azure.clusterName",
  containerScope: null,
  containerName: "artifacts.containerName",
  roleDefinition: "name",
  tags: "tags",
};
