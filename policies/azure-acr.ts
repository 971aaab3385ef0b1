import { PolicyRule, block, resources, type Finding, type TfJson } from "./rule";

/** MLF-AZ-ACR-1: every Azure Container Registry has its admin user off and is encrypted with a customer-managed key. */
export class AzureAcr extends PolicyRule {
  readonly id = "MLF-AZ-ACR-1";
  readonly reason =
    'A registry must have no admin user (admin_enabled not true: its shared password bypasses Entra ID and every role assignment) and no anonymous pull, and be encrypted with a customer-managed Key Vault key through a user-assigned identity (encryption.key_vault_key_id and identity_client_id), which needs the "Premium" sku and can be set at creation only.';

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const [name, registry] of resources(json, "azurerm_container_registry")) {
      const resource = `azurerm_container_registry.${name}`;
      if (registry.admin_enabled === true) findings.push({ resource, message: "admin_enabled must be false" });
      if (registry.anonymous_pull_enabled === true) findings.push({ resource, message: "anonymous_pull_enabled must be false" });
      const encryption = block(registry.encryption);
      if (!encryption?.key_vault_key_id || !encryption?.identity_client_id)
        findings.push({ resource, message: "registry has no encryption with a key_vault_key_id and identity_client_id (CMK)" });
      if (registry.sku !== "Premium")
        findings.push({
          resource,
          message: `sku must be "Premium" (customer-managed keys), got ${JSON.stringify(registry.sku ?? "unset")}`,
        });
    }
    return findings;
  }
}
