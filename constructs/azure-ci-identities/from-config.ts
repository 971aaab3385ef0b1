/**
 * Maps an Azure environment's configuration (`ci`, `state`, `azure`) onto AzureCiIdentities' props. The names come
 * from config/azure-ci.ts, the same functions the workflows' matrix (scripts/ci/environments.ts) reads.
 */
import type { AzureEnvironmentConfig } from "../../config/azure";
import { azureCiNames, azureDeployEnvironmentOf } from "../../config/azure-ci";
import { azureTags } from "../../config/azure";
import type { AzureCiIdentitiesProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

/** The state container's prefix where the plan identity saves an environment's plan files (as on AWS: ci-plans/<stack>). */
export function azurePlanFilesPrefix(config: Pick<AzureEnvironmentConfig, "project" | "name">): string {
  return `ci-plans/${config.project}-${config.name}`;
}

/** The azurerm backend's state location of an Azure environment; undefined with local state. */
export function azurermStateLocation(
  config: Pick<AzureEnvironmentConfig, "name" | "state">,
): { resourceGroupName: string; storageAccountName: string; containerName: string; key: string } | undefined {
  const s = config.state;
  return s.backend === "azurerm"
    ? {
        resourceGroupName: s.resourceGroupName,
        storageAccountName: s.storageAccountName,
        containerName: s.containerName,
        key: s.key.replaceAll("{env}", config.name),
      }
    : undefined;
}

/** AzureCiIdentities' props for an Azure environment with a `ci` section; undefined without one. */
export function azureCiIdentitiesProps(config: AzureEnvironmentConfig, refs: { clusterId: string }): AzureCiIdentitiesProps | undefined {
  const ci = config.ci;
  if (!ci) return undefined;
  const names = azureCiNames(config);
  const state = azurermStateLocation(config);
  const az = config.azure;
  return {
    subscriptionId: az.subscriptionId,
    resourceGroupName: az.resourceGroupName,
    location: az.location,
    repository: ci.repository,
    planIdentityName: names.planIdentityName,
    deployIdentityName: names.deployIdentityName,
    deployEnvironment: azureDeployEnvironmentOf(config),
    clusterId: refs.clusterId,
    clusterResourceGroupName: az.clusterResourceGroupName ?? az.resourceGroupName,
    virtualNetworkId: az.virtualNetworkId,
    state: state ? { ...state, planPrefix: azurePlanFilesPrefix(config) } : undefined,
    tags: azureTags(config),
  };
}

/** AzureCiIdentities ("ci_identities"). */
export const AZURE_CI_IDENTITIES_FIELDS: PropFieldMap = {
  subscriptionId: "azure.subscriptionId",
  resourceGroupName: "azure.resourceGroupName",
  location: "azure.location",
  repository: "ci.repository",
  planIdentityName: "ci.planIdentityName",
  deployIdentityName: "ci.deployIdentityName",
  deployEnvironment: "ci.deployEnvironment",
  mainBranch: null,
  clusterId: null,
  clusterResourceGroupName: "azure.clusterResourceGroupName",
  virtualNetworkId: "azure.virtualNetworkId",
  state: "state",
  "state.planPrefix": null,
  tags: "tags",
};
