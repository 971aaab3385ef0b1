import { PolicyRule, block, resources, type Finding, type TfJson } from "./rule";

/** MLF-AZ-BLOB-1: every Azure storage account is encrypted with a customer-managed key from Key Vault. */
export class AzureBlobCmk extends PolicyRule {
  readonly id = "MLF-AZ-BLOB-1";
  readonly reason =
    "Every storage account must be encrypted with a customer-managed Key Vault key (customer_managed_key with a user-assigned identity, or an azurerm_storage_account_customer_managed_key): who may decrypt the artifacts is then decided by a role assignment on that key, which the stack controls, not by Microsoft-managed keys.";

  check(json: TfJson): Finding[] {
    const separate = resources(json, "azurerm_storage_account_customer_managed_key").map(([, cmk]) => String(cmk.storage_account_id ?? ""));
    return resources(json, "azurerm_storage_account").flatMap(([name, account]) => {
      const cmk = block(account.customer_managed_key);
      if ((cmk?.key_vault_key_id || cmk?.managed_hsm_key_id) && cmk?.user_assigned_identity_id) return [];
      if (separate.some((id) => id.includes(`azurerm_storage_account.${name}.`))) return [];
      return [
        { resource: `azurerm_storage_account.${name}`, message: "account has no customer_managed_key (CMK) with a user-assigned identity" },
      ];
    });
  }
}
