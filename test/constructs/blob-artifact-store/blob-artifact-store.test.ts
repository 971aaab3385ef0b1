import { BlobArtifactStore, type BlobArtifactStoreProps } from "../../../constructs/blob-artifact-store";
import { AZ, azureStack, expectPropError, nameOf, only, synthJsonOf } from "../../helpers/azure-construct-stack";

const KEY = {
  versionlessId: "https://kv-mlflow-dev.vault.azure.net/keys/artifacts",
  resourceVersionlessId: `/subscriptions/${AZ.subscriptionId}/resourceGroups/rg-mlflow-dev/providers/Microsoft.KeyVault/vaults/kv-mlflow-dev/keys/artifacts`,
};
const BASE: BlobArtifactStoreProps = {
  storageAccountName: "mlflowdevartifacts",
  resourceGroupName: AZ.resourceGroupName,
  location: AZ.location,
  key: KEY,
  subnetIds: [AZ.subnet("aks-nodes")],
};

function synth(props: Partial<BlobArtifactStoreProps> = {}) {
  const stack = azureStack();
  const store = new BlobArtifactStore(stack, "blob_artifact_store", { ...BASE, ...props });
  return { json: synthJsonOf(stack), store };
}

describe("BlobArtifactStore", () => {
  it("encrypts with the Key Vault key through its own identity, which may use that key only, granted before the account exists", () => {
    const { json } = synth();
    const account = only(json, "azurerm_storage_account");
    const identity = `azurerm_user_assigned_identity.${nameOf(json, "azurerm_user_assigned_identity")}`;
    expect(account.identity).toEqual({ type: "UserAssigned", identity_ids: [`\${${identity}.id}`] });
    expect(account.customer_managed_key).toEqual({ key_vault_key_id: KEY.versionlessId, user_assigned_identity_id: `\${${identity}.id}` });
    expect(only(json, "azurerm_role_assignment")).toMatchObject({
      scope: KEY.resourceVersionlessId,
      role_definition_name: "Key Vault Crypto Service Encryption User",
      principal_id: `\${${identity}.principal_id}`,
    });
    expect(account.depends_on).toContain(`azurerm_role_assignment.${nameOf(json, "azurerm_role_assignment")}`);
    expect(account).toMatchObject({
      infrastructure_encryption_enabled: true,
      queue_encryption_key_type: "Account",
      table_encryption_key_type: "Account",
    });
  });

  it("is private: Entra ID only (no shared key), nothing public, the firewall denying all but the cluster's subnet", () => {
    const account = only(synth().json, "azurerm_storage_account");
    expect(account).toMatchObject({
      account_kind: "StorageV2",
      shared_access_key_enabled: false,
      default_to_oauth_authentication: true,
      allow_nested_items_to_be_public: false,
      cross_tenant_replication_enabled: false,
      local_user_enabled: false,
      network_rules: {
        default_action: "Deny",
        bypass: ["AzureServices"],
        virtual_network_subnet_ids: [AZ.subnet("aks-nodes")],
        ip_rules: [],
      },
    });
    expect(only(synth().json, "azurerm_storage_container").container_access_type).toBe("private");
  });

  it("takes TLS 1.2 over HTTPS only", () => {
    expect(only(synth().json, "azurerm_storage_account")).toMatchObject({ min_tls_version: "TLS1_2", https_traffic_only_enabled: true });
  });

  it("keeps versions and deleted blobs recoverable", () => {
    expect(only(synth().json, "azurerm_storage_account").blob_properties).toEqual({
      versioning_enabled: true,
      delete_retention_policy: { days: 30 },
      container_delete_retention_policy: { days: 30 },
    });
  });

  it("has the S3 store's lifecycle, in Azure's terms, under the container's prefix", () => {
    const policy = only(
      synth({ lifecycle: { transitionToGlacierIrDays: 90, expireDays: 400, noncurrentExpireDays: 45 } }).json,
      "azurerm_storage_management_policy",
    );
    expect(policy.rule).toEqual([
      {
        name: "artifacts-tiering",
        enabled: true,
        filters: { blob_types: ["blockBlob"], prefix_match: ["mlflow/mlartifacts/"] },
        actions: {
          base_blob: {
            tier_to_cool_after_days_since_creation_greater_than: 30,
            tier_to_cold_after_days_since_creation_greater_than: 90,
            delete_after_days_since_creation_greater_than: 400,
          },
        },
      },
      {
        name: "previous-versions",
        enabled: true,
        filters: { blob_types: ["blockBlob"], prefix_match: ["mlflow/"] },
        actions: { version: { delete_after_days_since_creation: 45 } },
      },
    ]);
  });

  it("production: Terraform may not destroy the account or its container", () => {
    const { json } = synth({ preventDestroy: true });
    expect(only(json, "azurerm_storage_account").lifecycle).toEqual({ prevent_destroy: true });
    expect(only(json, "azurerm_storage_container").lifecycle).toEqual({ prevent_destroy: true });
  });

  it("offers a wasbs:// destination, the account and the container's scope through its contract", () => {
    const { store } = synth({ prefix: "runs", containerName: "mlruns" });
    expect(store.contract.destinationUri).toBe("wasbs://mlruns@mlflowdevartifacts.blob.core.windows.net/runs");
    expect(store.contract.bucketName).toBe("mlruns");
    expect(store.contract.storageAccountName).toBe("mlflowdevartifacts");
    expect(store.contract.containerScope).toMatch(/^\$\{TfToken\[.*\]\}\/blobServices\/default\/containers\/mlruns$/);
  });

  it.each([
    [{ storageAccountName: "mlflow-dev-artifacts" }, "storageAccountName", /3-24 lower-case letters and digits/],
    [{ containerName: "ML" }, "containerName", /blob container name/],
    [{ prefix: "runs/" }, "prefix", /without leading or trailing/],
    [{ subnetIds: [] }, "subnetIds", /Microsoft.Storage service endpoint/],
    [{ lifecycle: { transitionToInfrequentAccessDays: 10 } }, "lifecycle.transitionToInfrequentAccessDays", /30 to 36500/],
    [
      { lifecycle: { transitionToInfrequentAccessDays: 45, transitionToGlacierIrDays: 70 } },
      "lifecycle.transitionToGlacierIrDays",
      /at least 30 days after/,
    ],
    [{ lifecycle: { expireDays: 20 } }, "lifecycle.expireDays", /later than the last tier change/],
    [{ lifecycle: { noncurrentVersionsToKeep: 3 } }, "lifecycle.noncurrentVersionsToKeep", /cannot keep a number of versions/],
    [{ lifecycle: { noncurrentMaxDays: 365 } }, "lifecycle.noncurrentMaxDays", /unset/],
    [{ lifecycle: { abortIncompleteMultipartUploadDays: 3 } }, "lifecycle.abortIncompleteMultipartUploadDays", /uncommitted blocks/],
    [{ deleteRetentionDays: 0 }, "deleteRetentionDays", /1 to 365/],
  ])("refuses %j naming the prop and the fix", (props, prop, message) => {
    expectPropError(() => synth(props as Partial<BlobArtifactStoreProps>), prop, message);
  });
});

describe("BlobArtifactStore archive (model retention's blob index tag)", () => {
  const TAG = { key: "mlflow-platform-retention", value: "archive" };
  const rule = (props: Partial<BlobArtifactStoreProps>) =>
    (only(synth(props).json, "azurerm_storage_management_policy").rule as Record<string, any>[]).find(
      (r) => r.name === "model-retention-archive",
    );

  it("has no archive rule without archive", () => {
    expect(rule({})).toBeUndefined();
  });

  it("filters on the prefix and the blob index tag, and tiers (and deletes) by days since creation", () => {
    expect(rule({ archive: { tag: TAG, transitionDays: 30, tier: "Cool", expireDays: 400 } })).toEqual({
      name: "model-retention-archive",
      enabled: true,
      filters: {
        blob_types: ["blockBlob"],
        prefix_match: ["mlflow/mlartifacts/"],
        match_blob_index_tag: [{ name: TAG.key, operation: "==", value: TAG.value }],
      },
      actions: {
        base_blob: { tier_to_cool_after_days_since_creation_greater_than: 30, delete_after_days_since_creation_greater_than: 400 },
      },
    });
    expect(rule({ archive: { tag: TAG, transitionDays: 5, tier: "Archive" }, replicationType: "LRS" })!.actions).toEqual({
      base_blob: { tier_to_archive_after_days_since_creation_greater_than: 5 },
    });
  });

  it.each([
    [{ archive: { tag: { key: "bad<key>", value: "v" }, transitionDays: 30 } }, "archive.tag.key", /blob index tag key/],
    [{ archive: { tag: TAG, transitionDays: 0 } }, "archive.transitionDays", /1 to 36500/],
    [{ archive: { tag: TAG, transitionDays: 30, expireDays: 10 } }, "archive.expireDays", /> 30/],
    [{ archive: { tag: TAG, transitionDays: 30, tier: "Archive" } }, "archive.tier", /not available on a ZRS account/],
    [{ archive: { tag: TAG, transitionDays: 30, tier: "Archive" }, replicationType: "GZRS" }, "archive.tier", /GZRS/],
  ])("refuses %j naming the prop", (props, prop, message) => {
    expectPropError(() => synth(props as Partial<BlobArtifactStoreProps>), prop, message);
  });
});

describe("BlobArtifactStore expiring prefixes (the served models' inference logs)", () => {
  const LOG = { id: "inference-log-iris", prefix: "inference-logs/model=iris", days: 30 };
  const rules = (props: Partial<BlobArtifactStoreProps>) =>
    only(synth(props).json, "azurerm_storage_management_policy").rule as Record<string, any>[];

  it("deletes a model's log blobs the configured days after their creation, under its own prefix only", () => {
    expect(rules({ expiringPrefixes: [LOG] }).find((r) => r.name === LOG.id)).toEqual({
      name: LOG.id,
      enabled: true,
      filters: { blob_types: ["blockBlob"], prefix_match: ["mlflow/inference-logs/model=iris/"] },
      actions: { base_blob: { delete_after_days_since_creation_greater_than: 30 } },
    });
    expect(rules({}).map((r) => r.name)).toEqual(["artifacts-tiering", "previous-versions"]);
  });

  it.each([
    [{ ...LOG, prefix: "mlartifacts/logs" }, "expiringPrefixes", /do not overlap MLflow's artifact prefix/],
    [{ ...LOG, days: 0 }, "expiringPrefixes[inference-log-iris].days", /1 to 36500/],
  ])("refuses %j naming the prop", (entry, prop, message) => {
    expectPropError(() => synth({ expiringPrefixes: [entry] }), prop, message);
  });
});
