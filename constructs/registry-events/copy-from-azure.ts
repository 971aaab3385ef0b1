/**
 * How an Azure stack copies a channel secret into the events service's Secret: a Key Vault secret data source
 * (azurerm_key_vault_secret). Reading a secret is a call to the vault's data plane
 * (`https://<vault>.vault.azure.net`) from where Terraform runs: the vault's firewall must admit that network, and
 * Terraform's identity needs Key Vault Secrets User on the secret (docs/azure.md#registry-events).
 */
import { DataAzurermKeyVault } from "@cdktf/provider-azurerm/lib/data-azurerm-key-vault";
import { DataAzurermKeyVaultSecret } from "@cdktf/provider-azurerm/lib/data-azurerm-key-vault-secret";
import type { SecretValueReader } from ".";
import type { CloudSecretSource } from "./command";

/** The reader of a `key-vault` reference; a vault named without a resource group is looked up in `defaultResourceGroupName`. */
export function azureSecretCopy(src: CloudSecretSource, defaultResourceGroupName: string): SecretValueReader {
  // The configuration refuses another cloud's source on an Azure environment (config/events.ts secretSourceProblems).
  if (src.source !== "key-vault") throw new Error(`a "${src.source}" secret reference cannot be read by an Azure stack`);
  return (scope, id) => {
    const keyVaultId =
      src.vaultId ??
      new DataAzurermKeyVault(scope, `${id}_vault`, {
        name: src.vaultName!,
        resourceGroupName: src.resourceGroupName ?? defaultResourceGroupName,
      }).id;
    return new DataAzurermKeyVaultSecret(scope, id, {
      name: src.secretName,
      keyVaultId,
      ...(src.version ? { version: src.version } : {}),
    }).value;
  };
}
