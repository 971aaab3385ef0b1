/**
 * The Azure policy rules (policies/azure-*.ts): the Azure constructs' own output passes each, a planted violation
 * fails it, and a stack with a violation does not synthesize.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, TerraformStack } from "cdktf";
import { StorageAccount } from "@cdktf/provider-azurerm/lib/storage-account";
import {
  AzureAcr,
  AzureBlobCmk,
  AzureKeyVault,
  AzureBlobPrivate,
  AzureBlobTls,
  AzureNoBroadRoles,
  AzurePostgresCmk,
  AzurePostgresPrivate,
  AzurePostgresTls,
  allRules,
  applyPolicies,
  type TfJson,
} from "../../policies";
import { KeyVault } from "../../constructs/key-vault";
import { BlobArtifactStore } from "../../constructs/blob-artifact-store";
import { AksWorkloadIdentity } from "../../constructs/aks-workload-identity";
import { PostgresFlexibleStore } from "../../constructs/postgres-flexible-store";
import { AzureContainerRegistry } from "../../constructs/container-registry";
import { AZ, azureStack, synthJsonOf } from "../helpers/azure-construct-stack";

/** Every Azure construct with its defaults, wired as the Azure stack wires them. */
function constructsJson(): TfJson {
  const stack = azureStack();
  const keyVault = new KeyVault(stack, "key_vault", {
    name: "kv-mlflow-dev",
    resourceGroupName: AZ.resourceGroupName,
    location: AZ.location,
    tenantId: AZ.tenantId,
  });
  const store = new BlobArtifactStore(stack, "blob_artifact_store", {
    storageAccountName: "mlflowdevartifacts",
    resourceGroupName: AZ.resourceGroupName,
    location: AZ.location,
    key: keyVault.keyFor("artifacts_key", "artifacts"),
    subnetIds: [AZ.subnet("aks-nodes")],
  });
  new AksWorkloadIdentity(stack, "workload_identity", {
    name: "id-mlflow-dev",
    resourceGroupName: AZ.resourceGroupName,
    location: AZ.location,
    oidcIssuerUrl: "https://westeurope.oic.prod-aks.azure.com/tenant/cluster/",
    namespace: "mlflow",
    serviceAccountName: "mlflow",
    containerScope: store.contract.containerScope,
    containerName: store.contract.bucketName,
    prefix: store.prefix,
    dependsOn: [store.container],
  });
  new PostgresFlexibleStore(stack, "postgres_flexible_store", {
    serverName: "mlflow-dev-db",
    resourceGroupName: AZ.resourceGroupName,
    location: AZ.location,
    delegatedSubnetId: AZ.subnet("postgres"),
    virtualNetworkId: AZ.vnetId,
    key: keyVault.keyFor("database_key", "database"),
    namespace: "mlflow",
    preventDestroy: true,
  });
  new AzureContainerRegistry(stack, "container_registry", {
    name: "mlflowdevimages",
    resourceGroupName: AZ.resourceGroupName,
    location: AZ.location,
    key: keyVault.keyFor("images_key", "images"),
    privateEndpoint: { subnetId: AZ.subnet("endpoints"), virtualNetworkId: AZ.vnetId },
    pullPrincipalIds: ["kubelet-object-id"],
  });
  return synthJsonOf(stack) as TfJson;
}

const stackJson = constructsJson();
/** The JSON with every resource of `type` changed by `patch`. */
function planted(type: string, patch: (attrs: Record<string, any>) => void): TfJson {
  const copy = structuredClone(stackJson);
  for (const attrs of Object.values(copy.resource![type])) patch(attrs as Record<string, any>);
  return copy;
}
const AZURE_IDS = [
  "MLF-AZ-BLOB-1",
  "MLF-AZ-BLOB-2",
  "MLF-AZ-BLOB-3",
  "MLF-AZ-PG-1",
  "MLF-AZ-PG-2",
  "MLF-AZ-PG-3",
  "MLF-AZ-ACR-1",
  "MLF-AZ-KV-1",
  "MLF-AZ-1",
];

describe("Azure policy rules", () => {
  it("are in the pack every stack applies", () => {
    expect(allRules().map((r) => r.id)).toEqual(expect.arrayContaining(AZURE_IDS));
  });

  it.each(allRules().map((r) => [r.id, r]))("%s passes the Azure constructs' output", (_id, rule) => {
    expect(rule.check(stackJson)).toEqual([]);
  });

  it("MLF-AZ-BLOB-1 flags an account without a customer-managed key, and accepts one set by its own resource", () => {
    const rule = new AzureBlobCmk();
    expect(rule.check(planted("azurerm_storage_account", (a) => delete a.customer_managed_key))).toEqual([
      { resource: expect.stringMatching(/^azurerm_storage_account\./), message: expect.stringMatching(/CMK/) },
    ]);
    expect(rule.check(planted("azurerm_storage_account", (a) => delete a.customer_managed_key.user_assigned_identity_id))).toHaveLength(1);
    const separate = planted("azurerm_storage_account", (a) => delete a.customer_managed_key);
    const [name] = Object.keys(separate.resource!.azurerm_storage_account);
    separate.resource!.azurerm_storage_account_customer_managed_key = {
      cmk: { storage_account_id: `\${azurerm_storage_account.${name}.id}`, key_vault_key_id: "k", user_assigned_identity_id: "i" },
    };
    expect(rule.check(separate)).toEqual([]);
  });

  it("MLF-AZ-BLOB-2 flags public containers, a shared key, an open firewall and a public container", () => {
    const rule = new AzureBlobPrivate();
    expect(rule.check(planted("azurerm_storage_account", (a) => (a.allow_nested_items_to_be_public = true)))[0].message).toMatch(
      /allow_nested_items_to_be_public must be false/,
    );
    expect(rule.check(planted("azurerm_storage_account", (a) => delete a.shared_access_key_enabled))[0].message).toMatch(
      /shared_access_key_enabled must be false/,
    );
    expect(rule.check(planted("azurerm_storage_account", (a) => (a.network_rules.default_action = "Allow")))[0].message).toMatch(
      /default_action must be "Deny", got "Allow"/,
    );
    expect(rule.check(planted("azurerm_storage_account", (a) => delete a.network_rules))).toHaveLength(1);
    expect(rule.check(planted("azurerm_storage_container", (c) => (c.container_access_type = "blob")))[0]).toEqual({
      resource: expect.stringMatching(/^azurerm_storage_container\./),
      message: 'container_access_type must be "private", got "blob"',
    });
  });

  it("MLF-AZ-BLOB-3 flags plain HTTP and TLS before 1.2, or an unwritten minimum", () => {
    const rule = new AzureBlobTls();
    expect(rule.check(planted("azurerm_storage_account", (a) => (a.https_traffic_only_enabled = false)))[0].message).toMatch(
      /https_traffic_only/,
    );
    expect(rule.check(planted("azurerm_storage_account", (a) => (a.min_tls_version = "TLS1_0")))[0].message).toMatch(
      /min_tls_version must be "TLS1_2" or later, got "TLS1_0"/,
    );
    expect(rule.check(planted("azurerm_storage_account", (a) => delete a.min_tls_version))).toHaveLength(1);
  });

  it("MLF-AZ-PG-1 flags a public endpoint, a server outside a delegated subnet or without its DNS zone, and a firewall rule", () => {
    const rule = new AzurePostgresPrivate();
    const server = "azurerm_postgresql_flexible_server";
    expect(rule.check(planted(server, (s) => (s.public_network_access_enabled = true)))[0].message).toMatch(
      /public_network_access_enabled must be false, got true/,
    );
    expect(rule.check(planted(server, (s) => delete s.public_network_access_enabled))).toHaveLength(1);
    expect(rule.check(planted(server, (s) => delete s.delegated_subnet_id))[0].message).toMatch(/delegated_subnet_id/);
    expect(rule.check(planted(server, (s) => delete s.private_dns_zone_id))[0].message).toMatch(/private_dns_zone_id/);
    const open = structuredClone(stackJson);
    open.resource!.azurerm_postgresql_flexible_server_firewall_rule = {
      all: { server_id: "x", start_ip_address: "0.0.0.0", end_ip_address: "255.255.255.255" },
    };
    expect(rule.check(open)).toEqual([
      { resource: "azurerm_postgresql_flexible_server_firewall_rule.all", message: expect.stringMatching(/public/) },
    ]);
  });

  it("MLF-AZ-PG-2 flags require_secure_transport off or unwritten, and TLS before 1.2", () => {
    const rule = new AzurePostgresTls();
    const config = "azurerm_postgresql_flexible_server_configuration";
    const set = (name: string, value: string) => planted(config, (c) => c.name === name && (c.value = value));
    expect(rule.check(set("require_secure_transport", "off"))[0].message).toBe('require_secure_transport must be "on", got "off"');
    expect(rule.check(set("require_secure_transport", "ON"))).toEqual([]);
    expect(rule.check(set("ssl_min_protocol_version", "TLSv1.1"))[0].message).toMatch(/TLSv1.2 or later, got "TLSv1.1"/);
    const unwritten = planted(config, (c) => c.name === "require_secure_transport" && (c.name = "log_statement"));
    expect(rule.check(unwritten)[0].message).toBe('require_secure_transport must be "on", got "unset"');
  });

  it("MLF-AZ-PG-3 flags a server without a customer-managed key, or geo backups without their own", () => {
    const rule = new AzurePostgresCmk();
    const server = "azurerm_postgresql_flexible_server";
    expect(rule.check(planted(server, (s) => delete s.customer_managed_key))[0].message).toMatch(/CMK/);
    expect(rule.check(planted(server, (s) => delete s.customer_managed_key.primary_user_assigned_identity_id))).toHaveLength(1);
    expect(rule.check(planted(server, (s) => (s.geo_redundant_backup_enabled = true)))[0].message).toMatch(/geo_backup_key_vault_key_id/);
  });

  it("MLF-AZ-ACR-1 flags an admin user, anonymous pull, a registry without a customer-managed key, and a tier without CMK", () => {
    const rule = new AzureAcr();
    const registry = "azurerm_container_registry";
    expect(rule.check(planted(registry, (r) => (r.admin_enabled = true)))[0].message).toBe("admin_enabled must be false");
    expect(rule.check(planted(registry, (r) => (r.anonymous_pull_enabled = true)))[0].message).toBe("anonymous_pull_enabled must be false");
    expect(rule.check(planted(registry, (r) => delete r.encryption))[0].message).toMatch(/CMK/);
    expect(rule.check(planted(registry, (r) => delete r.encryption[0].identity_client_id))).toHaveLength(1);
    expect(rule.check(planted(registry, (r) => (r.sku = "Standard")))[0].message).toBe(
      'sku must be "Premium" (customer-managed keys), got "Standard"',
    );
  });

  it("MLF-AZ-KV-1 flags a vault without purge protection, without RBAC, or with access policies", () => {
    const rule = new AzureKeyVault();
    const vault = "azurerm_key_vault";
    expect(rule.check(planted(vault, (v) => delete v.purge_protection_enabled))[0].message).toBe("purge_protection_enabled must be true");
    expect(rule.check(planted(vault, (v) => delete v.rbac_authorization_enabled))[0].message).toMatch(
      /rbac_authorization_enabled must be true/,
    );
    expect(rule.check(planted(vault, (v) => ((v.rbac_authorization_enabled = undefined), (v.enable_rbac_authorization = true))))).toEqual(
      [],
    );
    expect(rule.check(planted(vault, (v) => (v.access_policy = [{ object_id: "x" }])))[0].message).toMatch(/access_policy must be empty/);
    expect(rule.check({ resource: { azurerm_key_vault_access_policy: { p: { key_vault_id: "v", object_id: "x" } } } })).toHaveLength(1);
  });

  it("MLF-AZ-1 flags Owner, Contributor and role-granting roles on a subscription or resource group, by name or id", () => {
    const rule = new AzureNoBroadRoles();
    const grant = (attrs: Record<string, unknown>): TfJson => ({
      resource: { azurerm_role_assignment: { g: { principal_id: "p", ...attrs } } },
    });
    const sub = `/subscriptions/${AZ.subscriptionId}`;
    expect(rule.check(grant({ scope: sub, role_definition_name: "Owner" }))).toEqual([
      { resource: "azurerm_role_assignment.g", message: "grants Owner on a subscription" },
    ]);
    expect(rule.check(grant({ scope: `${sub}/resourceGroups/rg-mlflow-dev`, role_definition_name: "Contributor" }))[0].message).toBe(
      "grants Contributor on a resource group",
    );
    expect(
      rule.check(
        grant({
          scope: "${data.azurerm_resource_group.rg.id}",
          role_definition_id: `${sub}/providers/Microsoft.Authorization/roleDefinitions/18d7d88d-d35e-4fb5-a5c3-7773c20a72d9`,
        }),
      )[0].message,
    ).toBe("grants User Access Administrator on a resource group");
    expect(
      rule.check(
        grant({ scope: "${data.azurerm_subscription.current.id}", role_definition_name: "Role Based Access Control Administrator" }),
      ),
    ).toHaveLength(1);
    expect(
      rule.check(grant({ scope: "/providers/Microsoft.Management/managementGroups/corp", role_definition_name: "Owner" }))[0].message,
    ).toBe("grants Owner on a management group");
    expect(rule.check(grant({ scope: "${data.azurerm_management_group.corp.id}", role_definition_name: "Contributor" }))[0].message).toBe(
      "grants Contributor on a management group",
    );
    // Narrow scopes, or narrow roles on a broad scope, are not this rule's business.
    expect(
      rule.check(grant({ scope: `${sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv`, role_definition_name: "Owner" })),
    ).toEqual([]);
    expect(rule.check(grant({ scope: sub, role_definition_name: "Reader" }))).toEqual([]);
    expect(rule.check(planted("azurerm_role_assignment", (g) => (g.scope = sub)))).toEqual([]);
    expect(rule.check(planted("azurerm_role_assignment", (g) => ((g.scope = sub), (g.role_definition_name = "Contributor"))))).toHaveLength(
      Object.keys(stackJson.resource!.azurerm_role_assignment).length,
    );
  });

  it("a stack with a violation does not synthesize", () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), "policy-")), skipValidation: true });
    const stack = new TerraformStack(app, "bad");
    new StorageAccount(stack, "open", {
      name: "openaccount",
      resourceGroupName: "rg",
      location: "westeurope",
      accountTier: "Standard",
      accountReplicationType: "LRS",
    });
    applyPolicies(stack);
    expect(() => app.synth()).toThrow(/\[bad\/open\] \[MLF-AZ-BLOB-1\][\s\S]*\[bad\/open\] \[MLF-AZ-BLOB-2\][\s\S]*\[MLF-AZ-BLOB-3\]/);
  });
});
