import { AzureContainerRegistry, type AzureContainerRegistryProps } from "../../../constructs/container-registry";
import { AZ, azureStack, expectPropError, nameOf, only, synthJsonOf } from "../../helpers/azure-construct-stack";

const KEY = {
  versionlessId: "https://kv-mlflow-dev.vault.azure.net/keys/images",
  resourceVersionlessId: `/subscriptions/${AZ.subscriptionId}/resourceGroups/rg-mlflow-dev/providers/Microsoft.KeyVault/vaults/kv-mlflow-dev/keys/images`,
};
const BASE: AzureContainerRegistryProps = {
  name: "mlflowdevimages",
  resourceGroupName: AZ.resourceGroupName,
  location: AZ.location,
  key: KEY,
};

function synth(props: Partial<AzureContainerRegistryProps> = {}) {
  const stack = azureStack();
  const registry = new AzureContainerRegistry(stack, "container_registry", { ...BASE, ...props });
  return { json: synthJsonOf(stack), registry };
}

describe("AzureContainerRegistry", () => {
  it("is Premium, encrypted with the Key Vault key through its own identity, granted before the registry exists", () => {
    const { json } = synth();
    const registry = only(json, "azurerm_container_registry");
    const identity = `azurerm_user_assigned_identity.${nameOf(json, "azurerm_user_assigned_identity")}`;
    expect(registry.sku).toBe("Premium");
    expect(registry.identity).toEqual({ type: "UserAssigned", identity_ids: [`\${${identity}.id}`] });
    expect(registry.encryption).toEqual([{ key_vault_key_id: KEY.versionlessId, identity_client_id: `\${${identity}.client_id}` }]);
    expect(only(json, "azurerm_role_assignment")).toMatchObject({
      scope: KEY.resourceVersionlessId,
      role_definition_name: "Key Vault Crypto Service Encryption User",
    });
    expect(registry.depends_on).toEqual([`azurerm_role_assignment.${nameOf(json, "azurerm_role_assignment")}`]);
  });

  it("has no admin user, no anonymous pull, no public network access and no export by default, and deletes untagged manifests", () => {
    expect(only(synth().json, "azurerm_container_registry")).toMatchObject({
      admin_enabled: false,
      anonymous_pull_enabled: false,
      public_network_access_enabled: false,
      export_policy_enabled: false,
      data_endpoint_enabled: true,
      retention_policy_in_days: 7,
    });
  });

  it("opens to the allowed CIDRs only, denying every other network", () => {
    const registry = only(synth({ allowedCidrs: ["203.0.113.0/24"] }).json, "azurerm_container_registry");
    expect(registry.public_network_access_enabled).toBe(true);
    expect(registry.network_rule_set).toEqual([{ default_action: "Deny", ip_rule: [{ action: "Allow", ip_range: "203.0.113.0/24" }] }]);
    expect(registry.export_policy_enabled).toBeUndefined();
  });

  it("a private endpoint in the VNet, registered in a privatelink.azurecr.io zone it creates or one that exists", () => {
    const created = synth({ privateEndpoint: { subnetId: AZ.subnet("endpoints"), virtualNetworkId: AZ.vnetId } }).json;
    expect(only(created, "azurerm_private_dns_zone").name).toBe("privatelink.azurecr.io");
    expect(only(created, "azurerm_private_dns_zone_virtual_network_link").virtual_network_id).toBe(AZ.vnetId);
    expect(only(created, "azurerm_private_endpoint")).toMatchObject({
      subnet_id: AZ.subnet("endpoints"),
      private_service_connection: { is_manual_connection: false, subresource_names: ["registry"] },
    });
    const existing = synth({
      privateEndpoint: { subnetId: AZ.subnet("endpoints"), privateDnsZoneId: "/zones/privatelink.azurecr.io" },
    }).json;
    expect(existing.resource!.azurerm_private_dns_zone).toBeUndefined();
    expect(only(existing, "azurerm_private_endpoint").private_dns_zone_group).toEqual({
      name: "registry",
      private_dns_zone_ids: ["/zones/privatelink.azurecr.io"],
    });
  });

  it("grants AcrPull on the registry to the pull principals", () => {
    const { json } = synth({ pullPrincipalIds: ["kubelet-object-id"] });
    const pulls = Object.values(json.resource!.azurerm_role_assignment).filter((g: any) => g.role_definition_name === "AcrPull");
    expect(pulls).toEqual([
      expect.objectContaining({
        principal_id: "kubelet-object-id",
        scope: `\${azurerm_container_registry.${nameOf(json, "azurerm_container_registry")}.id}`,
      }),
    ]);
  });

  it("production: Terraform may not destroy the registry", () => {
    expect(only(synth({ preventDestroy: true }).json, "azurerm_container_registry").lifecycle).toEqual({ prevent_destroy: true });
  });

  it.each([
    [{ name: "mlflow-dev-images" }, "name", /5-50 letters and digits/],
    [{ untaggedRetentionDays: 400 }, "untaggedRetentionDays", /0 to 365/],
    [{ allowedCidrs: ["0.0.0.0/0"] }, "allowedCidrs[0]", /narrower than \/0/],
    [{ privateEndpoint: { subnetId: "s" } }, "privateEndpoint", /exactly one of privateDnsZoneId/],
  ])("refuses %j naming the prop and the fix", (props, prop, message) => {
    expectPropError(() => synth(props as Partial<AzureContainerRegistryProps>), prop, message);
  });
});
