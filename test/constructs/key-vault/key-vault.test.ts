import { KeyVault, type KeyVaultProps } from "../../../constructs/key-vault";
import { AZ, azureStack, expectPropError, nameOf, only, synthJsonOf } from "../../helpers/azure-construct-stack";

const BASE: KeyVaultProps = {
  name: "kv-mlflow-dev",
  resourceGroupName: AZ.resourceGroupName,
  location: AZ.location,
  tenantId: AZ.tenantId,
};

function synth(props: Partial<KeyVaultProps> = {}, keys: (kv: KeyVault) => void = () => undefined) {
  const stack = azureStack();
  const kv = new KeyVault(stack, "key_vault", { ...BASE, ...props });
  keys(kv);
  return synthJsonOf(stack);
}

describe("KeyVault", () => {
  it("authorizes with Azure RBAC, keeps deleted keys 90 days and cannot be purged", () => {
    expect(only(synth(), "azurerm_key_vault")).toMatchObject({
      rbac_authorization_enabled: true,
      purge_protection_enabled: true,
      soft_delete_retention_days: 90,
      sku_name: "standard",
      enabled_for_deployment: false,
      enabled_for_template_deployment: false,
    });
    expect(only(synth(), "azurerm_key_vault").access_policy).toBeUndefined();
  });

  it("denies every network but trusted Azure services and the allowed CIDRs", () => {
    expect(only(synth(), "azurerm_key_vault").network_acls).toEqual({ default_action: "Deny", bypass: "AzureServices", ip_rules: [] });
    expect(only(synth({ allowedCidrs: ["203.0.113.0/24"] }), "azurerm_key_vault").network_acls.ip_rules).toEqual(["203.0.113.0/24"]);
  });

  it("creates RSA 3072 keys that wrap and unwrap only, rotated every 90 days, after the key administrators' grant", () => {
    const json = synth({ keyAdministratorPrincipalIds: ["11111111-2222-3333-4444-555555555555"] }, (kv) =>
      kv.keyFor("blob_key", "artifacts"),
    );
    const grant = only(json, "azurerm_role_assignment");
    expect(grant).toMatchObject({ role_definition_name: "Key Vault Crypto Officer", principal_id: "11111111-2222-3333-4444-555555555555" });
    expect(grant.scope).toBe(`\${azurerm_key_vault.${nameOf(json, "azurerm_key_vault")}.id}`);
    expect(only(json, "azurerm_key_vault_key")).toMatchObject({
      name: "artifacts",
      key_type: "RSA",
      key_size: 3072,
      key_opts: ["unwrapKey", "wrapKey"],
      rotation_policy: { automatic: { time_after_creation: "P90D" }, expire_after: "P365D", notify_before_expiry: "P30D" },
      depends_on: [`azurerm_role_assignment.${nameOf(json, "azurerm_role_assignment")}`],
    });
  });

  it("a premium vault's keys are HSM-protected", () => {
    expect(
      only(
        synth({ skuName: "premium" }, (kv) => kv.keyFor("k", "artifacts")),
        "azurerm_key_vault_key",
      ).key_type,
    ).toBe("RSA-HSM");
    expect(only(synth({ skuName: "premium" }), "azurerm_key_vault").sku_name).toBe("premium");
  });

  it("production: Terraform may not destroy the vault or its keys", () => {
    const json = synth({ preventDestroy: true }, (kv) => kv.keyFor("k", "database"));
    expect(only(json, "azurerm_key_vault").lifecycle).toEqual({ prevent_destroy: true });
    expect(only(json, "azurerm_key_vault_key").lifecycle).toEqual({ prevent_destroy: true });
  });

  it.each([
    [{ name: "1vault" }, "name", /Key Vault name: 3-24 letters/],
    [{ name: "kv--double" }, "name", /single hyphens/],
    [{ softDeleteRetentionDays: 3 }, "softDeleteRetentionDays", /7 to 90/],
    [{ allowedCidrs: ["10.0.0.0/33"] }, "allowedCidrs[0]", /IPv4 address or CIDR/],
    [{ allowedCidrs: ["0.0.0.0/0"] }, "allowedCidrs[0]", /narrower than \/0/],
  ])("refuses %j naming the prop and the fix", (props, prop, message) => {
    expectPropError(() => synth(props as Partial<KeyVaultProps>), prop, message);
  });

  it("refuses a key it cannot create", () => {
    expectPropError(() => synth({}, (kv) => kv.keyFor("k", "bad_name")), "keyFor[k].name", /letters, digits and hyphens/);
    expectPropError(() => synth({}, (kv) => kv.keyFor("k", "ok", { rotationDays: 400 })), "keyFor[k].rotationDays", /7 to 300/);
  });
});
