import { PolicyRule, resources, type Finding, type TfJson } from "./rule";

/** MLF-AZ-KV-1: every Key Vault has purge protection and Azure RBAC authorization. */
export class AzureKeyVault extends PolicyRule {
  readonly id = "MLF-AZ-KV-1";
  readonly reason =
    "A vault holding customer-managed keys must have purge protection (purge_protection_enabled: a purged key leaves the data it encrypts unreadable for good, and Azure Storage refuses a CMK without it) and Azure RBAC authorization (rbac_authorization_enabled) with no access policy, so who may use a key is a role assignment the policy checks see.";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const [name, vault] of resources(json, "azurerm_key_vault")) {
      const resource = `azurerm_key_vault.${name}`;
      if (vault.purge_protection_enabled !== true) findings.push({ resource, message: "purge_protection_enabled must be true" });
      if (vault.rbac_authorization_enabled !== true && vault.enable_rbac_authorization !== true)
        findings.push({ resource, message: "rbac_authorization_enabled must be true (Azure RBAC, not access policies)" });
      if (Array.isArray(vault.access_policy) && vault.access_policy.length > 0)
        findings.push({ resource, message: "access_policy must be empty (Azure RBAC decides who uses a key)" });
    }
    for (const [name] of resources(json, "azurerm_key_vault_access_policy"))
      findings.push({ resource: `azurerm_key_vault_access_policy.${name}`, message: "an access policy grants outside Azure RBAC" });
    return findings;
  }
}
