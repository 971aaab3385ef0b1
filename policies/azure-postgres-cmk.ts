import { PolicyRule, block, resources, type Finding, type TfJson } from "./rule";

/** MLF-AZ-PG-3: every PostgreSQL flexible server is encrypted with a customer-managed key, its geo backups too. */
export class AzurePostgresCmk extends PolicyRule {
  readonly id = "MLF-AZ-PG-3";
  readonly reason =
    "Every server must be created encrypted with a customer-managed Key Vault key through a user-assigned identity (customer_managed_key.key_vault_key_id and primary_user_assigned_identity_id; Azure fixes the mode at creation), and with geo-redundant backups a key of the paired region for them (geo_backup_key_vault_key_id, geo_backup_user_assigned_identity_id).";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const [name, server] of resources(json, "azurerm_postgresql_flexible_server")) {
      const resource = `azurerm_postgresql_flexible_server.${name}`;
      const cmk = block(server.customer_managed_key);
      if (!cmk?.key_vault_key_id || !cmk?.primary_user_assigned_identity_id)
        findings.push({ resource, message: "server has no customer_managed_key (CMK) with a user-assigned identity" });
      else if (
        server.geo_redundant_backup_enabled === true &&
        (!cmk.geo_backup_key_vault_key_id || !cmk.geo_backup_user_assigned_identity_id)
      )
        findings.push({ resource, message: "geo-redundant backups have no geo_backup_key_vault_key_id with its own identity (CMK)" });
    }
    return findings;
  }
}
