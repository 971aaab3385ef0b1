/**
 * Maps an Azure environment's configuration onto the tracking server's AksWorkloadIdentity props.
 */
import { azureResourceNames, azureTags, type AzureEnvironmentConfig } from "../../config/azure";
import { TRACKING_SERVICE_ACCOUNT } from "../gke-workload-identity/from-config";
import type { AksWorkloadIdentityProps } from ".";
import type { PropFieldMap } from "../core/prop-error";
import { INFERENCE_LOG_PREFIX } from "../core/inference-log";
import { modelServerName } from "../model-endpoint";

/**
 * The tracking server's AksWorkloadIdentity props: its own managed identity, federated with its service account
 * (the name the AWS and GCP stacks give it too), on the artifact prefix only.
 */
export function trackingAksIdentityProps(
  config: AzureEnvironmentConfig,
  deps: Pick<AksWorkloadIdentityProps, "oidcIssuerUrl" | "containerScope" | "containerName" | "prefix" | "dependsOn">,
): AksWorkloadIdentityProps {
  return {
    name: `${azureResourceNames(config).stack}-mlflow`,
    resourceGroupName: config.azure.resourceGroupName,
    location: config.azure.location,
    namespace: config.mlflow.namespace,
    serviceAccountName: TRACKING_SERVICE_ACCOUNT,
    tags: azureTags(config),
    ...deps,
  };
}

/** AksWorkloadIdentity ("workload_identity"). */
export const AKS_WORKLOAD_IDENTITY_FIELDS: PropFieldMap = {
  name: "name",
  resourceGroupName: "azure.resourceGroupName",
  location: "azure.location",
  oidcIssuerUrl: "azure.clusterName",
  namespace: "mlflow.namespace",
  serviceAccountName: null,
  containerScope: null,
  containerName: "artifacts.containerName",
  prefix: "artifacts.prefix",
  access: null,
  roleDefinition: null,
  tags: "tags",
  dependsOn: null,
};

/**
 * A model server's own AksWorkloadIdentity props (its inference log): a managed identity federated with the server's
 * service account (`modelServerName`), whose custom role may only create blobs under `<log prefix>/model=<model>/`.
 */
export function modelServerAksIdentityProps(
  config: AzureEnvironmentConfig,
  modelName: string,
  deps: Pick<AksWorkloadIdentityProps, "oidcIssuerUrl" | "containerScope" | "containerName" | "dependsOn">,
): AksWorkloadIdentityProps {
  const stack = azureResourceNames(config).stack;
  return {
    name: `${stack}-model-${modelName}`,
    resourceGroupName: config.azure.resourceGroupName,
    location: config.azure.location,
    namespace: config.serving.namespace,
    serviceAccountName: modelServerName(stack, modelName),
    prefix: `${INFERENCE_LOG_PREFIX}/model=${modelName}`,
    access: "blob-create",
    // Role names are unique in the tenant: the stack's name (organisation, project, environment) makes it so.
    roleDefinition: {
      name: `${stack}-model-${modelName}-log`,
      scope: `/subscriptions/${config.azure.subscriptionId}/resourceGroups/${config.azure.resourceGroupName}`,
    },
    tags: azureTags(config),
    ...deps,
  };
}

/** A model server's AksWorkloadIdentity ("model_<model>_identity"). */
export const MODEL_SERVER_AKS_IDENTITY_FIELDS: PropFieldMap = {
  ...AKS_WORKLOAD_IDENTITY_FIELDS,
  namespace: "serving.namespace",
  prefix: null,
  roleDefinition: "name",
};
