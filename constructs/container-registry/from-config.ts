/**
 * Maps an Azure environment's configuration onto the AzureContainerRegistry construct's props (the model images'
 * registry).
 */
import { azureResourceNames, azureTags, type AzureEnvironmentConfig } from "../../config/azure";
import type { AzureContainerRegistryProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

/**
 * The AzureContainerRegistry props of an Azure environment: closed to the internet, reached by the nodes through a
 * private endpoint in their subnet (its DNS zone linked to the cluster's VNet); the stack passes the key and the
 * cluster's kubelet identity, which pulls.
 */
export function containerRegistryProps(
  config: AzureEnvironmentConfig,
  deps: Pick<AzureContainerRegistryProps, "key" | "pullPrincipalIds">,
): AzureContainerRegistryProps {
  return {
    name: azureResourceNames(config).containerRegistry,
    resourceGroupName: config.azure.resourceGroupName,
    location: config.azure.location,
    privateEndpoint: { subnetId: config.azure.clusterSubnetId, virtualNetworkId: config.azure.virtualNetworkId },
    preventDestroy: config.production,
    tags: azureTags(config),
    ...deps,
  };
}

/** AzureContainerRegistry ("container_registry"). */
export const CONTAINER_REGISTRY_FIELDS: PropFieldMap = {
  name: "name",
  resourceGroupName: "azure.resourceGroupName",
  location: "azure.location",
  key: null,
  allowedCidrs: null,
  privateEndpoint: "azure.clusterSubnetId",
  "privateEndpoint.virtualNetworkId": "azure.virtualNetworkId",
  pullPrincipalIds: null,
  untaggedRetentionDays: null,
  zoneRedundancy: null,
  preventDestroy: "production",
  tags: "tags",
};
