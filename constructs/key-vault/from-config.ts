/**
 * Maps an Azure environment's configuration (`azure`) onto the KeyVault construct's props: the one place that knows
 * which field becomes which prop.
 */
import { azureResourceNames, azureTags, type AzureEnvironmentConfig } from "../../config/azure";
import type { KeyVaultProps } from ".";
import type { PropFieldMap } from "../core/prop-error";

/** The KeyVault props of an Azure environment; the stack passes who administers the keys (Terraform's own identity). */
export function keyVaultProps(config: AzureEnvironmentConfig, deps: Pick<KeyVaultProps, "keyAdministratorPrincipalIds">): KeyVaultProps {
  return {
    name: azureResourceNames(config).keyVault,
    resourceGroupName: config.azure.resourceGroupName,
    location: config.azure.location,
    tenantId: config.azure.tenantId,
    allowedCidrs: config.azure.keyVaultAllowedCidrs,
    preventDestroy: config.production,
    tags: azureTags(config),
    ...deps,
  };
}

/** KeyVault ("key_vault"). */
export const KEY_VAULT_FIELDS: PropFieldMap = {
  name: "azure.keyVaultName",
  resourceGroupName: "azure.resourceGroupName",
  location: "azure.location",
  tenantId: "azure.tenantId",
  allowedCidrs: "azure.keyVaultAllowedCidrs",
  keyAdministratorPrincipalIds: null,
  softDeleteRetentionDays: null,
  skuName: null,
  preventDestroy: "production",
  tags: "tags",
  keyFor: null,
};
