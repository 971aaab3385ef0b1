/**
 * Maps an Azure environment's configuration onto the tracking server's AksWorkloadIdentity props.
 */
import { azureResourceNames, azureTags, type AzureEnvironmentConfig } from "../../config/azure";
import { TRACKING_SERVICE_ACCOUNT } from "../gke-workload-identity/from-config";
import type { AksWorkloadIdentityProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

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
  tags: "tags",
  dependsOn: null,
};
