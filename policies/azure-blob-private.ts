import { PolicyRule, block, resources, type Finding, type TfJson } from "./rule";

/** MLF-AZ-BLOB-2: every Azure storage account is private: nothing public, no shared key, its firewall denying by default. */
export class AzureBlobPrivate extends PolicyRule {
  readonly id = "MLF-AZ-BLOB-2";
  readonly reason =
    'A storage account must allow no public container (allow_nested_items_to_be_public = false), no shared key (shared_access_key_enabled = false: an account key or a SAS token made from it bypasses Entra ID and every role assignment) and deny every network its firewall does not list (network_rules.default_action = "Deny"); its containers must be private.';

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    const separateRules = resources(json, "azurerm_storage_account_network_rules");
    for (const [name, account] of resources(json, "azurerm_storage_account")) {
      const resource = `azurerm_storage_account.${name}`;
      if (account.allow_nested_items_to_be_public !== false)
        findings.push({ resource, message: "allow_nested_items_to_be_public must be false (no public container or blob)" });
      if (account.shared_access_key_enabled !== false)
        findings.push({ resource, message: "shared_access_key_enabled must be false (Entra ID authorization only)" });
      const inline = block(account.network_rules)?.default_action;
      const separate = separateRules.find(([, r]) => String(r.storage_account_id ?? "").includes(`azurerm_storage_account.${name}.`))?.[1]
        ?.default_action;
      if ((separate ?? inline) !== "Deny")
        findings.push({
          resource,
          message: `network_rules.default_action must be "Deny", got ${JSON.stringify(separate ?? inline ?? "unset")}`,
        });
    }
    for (const [name, container] of resources(json, "azurerm_storage_container"))
      if (container.container_access_type !== undefined && container.container_access_type !== "private")
        findings.push({
          resource: `azurerm_storage_container.${name}`,
          message: `container_access_type must be "private", got ${JSON.stringify(container.container_access_type)}`,
        });
    return findings;
  }
}
