/**
 * Maps an environment's configuration (a served model's `drift`, the cluster's identity) onto one DriftJob
 * construct's props: the one place that knows which configuration field becomes which prop.
 */
import type { EnvironmentConfig } from "../../config";
import { INFERENCE_LOG_PREFIX } from "../../config/inference";
import type { S3ArtifactStoreContract } from "../core/contracts";
import type { AzureDriftJobProps, DriftJobProps, GcpDriftJobProps } from ".";
import type { GcpEnvironmentConfig } from "../../config/gcp";
import { perModelServiceAccountId } from "../gke-workload-identity/from-config";
import { azureResourceNames, azureTags, type AzureEnvironmentConfig } from "../../config/azure";
import { driftCommand, driftJobName, driftJobPodLabels } from "./command";
import type { PropFieldMap } from "../core/prop-error";
import { API_CLIENT_CRON_JOB_FIELDS } from "../model-retention/from-config";
import { managedLabels } from "../core/labels";

/** The DriftJob props of one served model; `namePrefix` is the stack's name (the IAM role's prefix). */
export function driftJobProps(
  config: EnvironmentConfig,
  namePrefix: string,
  modelName: string,
  deps: Pick<DriftJobProps, "dependsOn"> & { readonly artifactStore: S3ArtifactStoreContract },
): DriftJobProps {
  const m = config.serving.models[modelName];
  return {
    namespace: config.mlflow.namespace,
    name: driftJobName(config, modelName),
    command: driftCommand({ config, modelName, bucketName: deps.artifactStore.bucketName }),
    schedule: m.drift.schedule,
    podLabels: driftJobPodLabels(config),
    labels: { ...managedLabels(config.project), "mlflow-platform/model": modelName },
    bucketArn: deps.artifactStore.bucketArn,
    kmsKeyArn: deps.artifactStore.kmsKeyArn,
    logPrefix: `${INFERENCE_LOG_PREFIX}/model=${modelName}`,
    clusterName: config.cluster.name,
    accountId: config.aws.accountId,
    region: config.aws.region,
    roleName: `${namePrefix}-drift-${modelName}`.slice(0, 64),
    identityMode: config.identity.mode,
    oidcProviderArn: config.cluster.oidcProviderArn,
    dependsOn: deps.dependsOn,
  };
}

/** DriftJob ("drift_<model>") of `modelName`. */
export function driftJobFields(modelName: string): PropFieldMap {
  return {
    ...API_CLIENT_CRON_JOB_FIELDS,
    name: "project",
    schedule: `serving.models.${modelName}.drift.schedule`,
    kmsKeyArn: null,
    logPrefix: null,
  };
}

/**
 * The GcpDriftJob props of one served model of a GCP environment: the Kubernetes half as on AWS, reading the log from
 * `source` (`gs://<bucket>`), as its own Google service account that may only list and read the model's log.
 */
export function gcpDriftJobProps(
  config: GcpEnvironmentConfig,
  modelName: string,
  deps: Pick<GcpDriftJobProps, "bucketName" | "dependsOn" | "storeDependsOn">,
): GcpDriftJobProps {
  return {
    namespace: config.mlflow.namespace,
    name: driftJobName(config, modelName),
    command: driftCommand({ config, modelName, source: `gs://${deps.bucketName}` }),
    schedule: config.serving.models[modelName].drift.schedule,
    podLabels: driftJobPodLabels(config),
    labels: { ...managedLabels(config.project), "mlflow-platform/model": modelName },
    projectId: config.gcp.projectId,
    googleServiceAccountId: perModelServiceAccountId(config, "drift", modelName),
    logPrefix: `${INFERENCE_LOG_PREFIX}/model=${modelName}`,
    ...deps,
  };
}

/** GcpDriftJob ("drift_<model>") of `modelName`. */
export function gcpDriftJobFields(modelName: string): PropFieldMap {
  return {
    namespace: "mlflow.namespace",
    name: "project",
    command: null,
    schedule: `serving.models.${modelName}.drift.schedule`,
    podLabels: null,
    labels: null,
    runAsUser: null,
    deadlineSeconds: null,
    resources: null,
    dependsOn: null,
    projectId: "gcp.projectId",
    googleServiceAccountId: "serving.models",
    bucketName: "artifacts.bucketName",
    logPrefix: null,
    storeDependsOn: null,
  };
}

/**
 * The AzureDriftJob props of one served model of an Azure environment: the Kubernetes half as on AWS, reading the log
 * from `source` (`wasbs://<container>@<account>.blob.core.windows.net`), as its own managed identity and custom role.
 */
export function azureDriftJobProps(
  config: AzureEnvironmentConfig,
  modelName: string,
  deps: Pick<AzureDriftJobProps, "oidcIssuerUrl" | "containerScope" | "containerName" | "dependsOn" | "storeDependsOn"> & {
    readonly source: string;
  },
): AzureDriftJobProps {
  const { source, ...rest } = deps;
  const az = config.azure;
  const stack = azureResourceNames(config).stack;
  return {
    namespace: config.mlflow.namespace,
    name: driftJobName(config, modelName),
    command: driftCommand({ config, modelName, source }),
    schedule: config.serving.models[modelName].drift.schedule,
    podLabels: driftJobPodLabels(config),
    labels: { ...managedLabels(config.project), "mlflow-platform/model": modelName },
    identityName: `${stack}-drift-${modelName}`,
    resourceGroupName: az.resourceGroupName,
    location: az.location,
    logPrefix: `${INFERENCE_LOG_PREFIX}/model=${modelName}`,
    // Role names are unique in the tenant: the stack's name (organisation, project, environment) makes it so.
    roleDefinition: {
      name: `${stack}-drift-${modelName}`,
      scope: `/subscriptions/${az.subscriptionId}/resourceGroups/${az.resourceGroupName}`,
    },
    tags: azureTags(config),
    ...rest,
  };
}

/** AzureDriftJob ("drift_<model>") of `modelName`. */
export function azureDriftJobFields(modelName: string): PropFieldMap {
  return {
    namespace: "mlflow.namespace",
    name: "project",
    command: null,
    schedule: `serving.models.${modelName}.drift.schedule`,
    podLabels: null,
    labels: null,
    runAsUser: null,
    deadlineSeconds: null,
    resources: null,
    dependsOn: null,
    identityName: "name",
    resourceGroupName: "azure.resourceGroupName",
    location: "azure.location",
    oidcIssuerUrl: "azure.clusterName",
    containerScope: null,
    containerName: "artifacts.containerName",
    logPrefix: null,
    roleDefinition: "name",
    tags: "tags",
    storeDependsOn: null,
  };
}
