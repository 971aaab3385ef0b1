/**
 * The artifact store on Azure: a private blob container in a StorageV2 account of its own, encrypted with a
 * customer-managed key (CMK) from Key Vault through a user-assigned identity, reachable from the cluster's subnet
 * only, Microsoft Entra ID authorization only (shared keys, hence SAS tokens, off), versioned, with blob soft delete
 * and a lifecycle management policy that means what the S3 store's lifecycle does (constructs/artifact-store):
 *
 * | S3 rule | Azure lifecycle management rule |
 * |---|---|
 * | STANDARD_IA after N days, under the prefix | tierToCool more than N days after creation, `<container>/<prefix>/` (Cool: 30-day minimum, like STANDARD_IA) |
 * | GLACIER_IR after M days | tierToCold more than M days after creation (online tier, millisecond reads, 90-day minimum, like GLACIER_IR) |
 * | expiration after E days | delete the base blob more than E days after creation (versioned: it becomes a previous version) |
 * | noncurrent versions expire D days after becoming noncurrent | delete previous versions D days after the version's creation (Azure counts from the version's creation, not from when it stopped being current: a version can go sooner than on S3, and blob soft delete keeps it recoverable `deleteRetentionDays` more) |
 * | keep the newest K noncurrent versions, delete every noncurrent version after X days | refused: Azure's rules have no version count, so K must be 0 and X unset |
 * | incomplete multipart uploads aborted after U days | refused: Azure discards uncommitted blocks after a week by itself, no rule sets it |
 * | `archive`: objects with the archive tag move to a colder class T days after creation | `archive`: blobs with the archive blob index tag (filter `blobIndexMatch`) move to a cooler tier more than T days after creation |
 *
 * Model retention (constructs/model-retention) sets the blob index tag `archive.tag` on the blobs of the versions it
 * does not keep; the `model-retention-archive` rule filters on it (lifecycle filters `blobIndexMatch`:
 * https://learn.microsoft.com/en-us/azure/storage/blobs/lifecycle-management-overview#rule-filters). The Archive tier
 * is offline (rehydration takes hours) and not available on zone-redundant accounts
 * (https://learn.microsoft.com/en-us/azure/storage/blobs/access-tiers-overview#archive-access-tier): refused there.
 *
 * Sources: lifecycle policy structure (rules, filters, prefixes that start with the container's name, actions on
 * base blobs and versions): https://learn.microsoft.com/en-us/azure/storage/blobs/lifecycle-management-policy-structure;
 * CMK with a user-assigned identity, and the vault's soft delete + purge protection it needs:
 * https://learn.microsoft.com/en-us/azure/storage/common/customer-managed-keys-configure-new-account; uncommitted
 * blocks: https://learn.microsoft.com/en-us/rest/api/storageservices/put-block-list.
 */
import { Construct } from "constructs";
import { Token, type ITerraformDependable } from "cdktf";
import { UserAssignedIdentity } from "@cdktf/provider-azurerm/lib/user-assigned-identity";
import { RoleAssignment } from "@cdktf/provider-azurerm/lib/role-assignment";
import { StorageAccount } from "@cdktf/provider-azurerm/lib/storage-account";
import { StorageContainer } from "@cdktf/provider-azurerm/lib/storage-container";
import { StorageManagementPolicy, type StorageManagementPolicyRule } from "@cdktf/provider-azurerm/lib/storage-management-policy";
import type { ArtifactLifecycleProps } from "../artifact-store";
import type { BlobArtifactStoreContract, KeyVaultKeyRef } from "../core/contracts";
import { blobContainerNameProblem, storageAccountNameProblem } from "../core/azure-limits";
import { isS3KeyPrefix } from "../core/s3-prefix";
import { PropError } from "../core/prop-error";

/** The built-in role a service's identity needs to wrap and unwrap with a Key Vault key (CMK). */
export const KEY_VAULT_CMK_ROLE = "Key Vault Crypto Service Encryption User";

/** The lifecycle rule for blobs tagged for archival (see {@link BlobArtifactStoreProps.archive}). */
export interface BlobArtifactArchiveProps {
  /** The blob index tag the rule filters on (what the retention job writes). Required. */
  readonly tag: { readonly key: string; readonly value: string };
  /** Days after a blob's creation at which a tagged blob moves to `tier` (as the S3 rule counts). Required. */
  readonly transitionDays: number;
  /** The tier tagged blobs move to. "Archive" is offline, and refused on zone-redundant accounts. @default "Cold" */
  readonly tier?: "Cool" | "Cold" | "Archive";
  /** Days after a blob's creation at which a tagged blob is deleted (versioned: it becomes a previous version). @default - never */
  readonly expireDays?: number;
}

/** Props of {@link BlobArtifactStore}. */
export interface BlobArtifactStoreProps {
  /** The storage account's name: 3-24 lower-case letters and digits, globally unique. Required. */
  readonly storageAccountName: string;
  /** The existing resource group of the account and its identity. Required. */
  readonly resourceGroupName: string;
  /** The account's Azure region. Required. */
  readonly location: string;
  /** The Key Vault key that encrypts the account (CMK); the vault needs purge protection. Required. */
  readonly key: KeyVaultKeyRef;
  /**
   * Subnets allowed through the account's firewall (the AKS nodes' subnet, with the Microsoft.Storage service
   * endpoint); every other network is denied. At least one. Required.
   */
  readonly subnetIds: readonly string[];
  /** Public IPv4 addresses or CIDRs also allowed through the firewall. @default [] */
  readonly allowedCidrs?: readonly string[];
  /** The blob container MLflow writes to. @default "mlflow" */
  readonly containerName?: string;
  /**
   * Blob name prefix MLflow writes under; the lifecycle's tiering and expiry rules apply to it.
   * @default "mlartifacts"
   */
  readonly prefix?: string;
  /** Replication: "LRS", "ZRS", "GRS", "GZRS", "RAGRS" or "RAGZRS". @default "ZRS" */
  readonly replicationType?: "LRS" | "ZRS" | "GRS" | "GZRS" | "RAGRS" | "RAGZRS";
  /**
   * Lifecycle rules, with the S3 store's meaning (see the table above). `noncurrentVersionsToKeep` must be 0 (or
   * unset), `noncurrentMaxDays` and `abortIncompleteMultipartUploadDays` unset.
   * @default - Cool after 30 days, previous versions deleted 30 days after their creation
   */
  readonly lifecycle?: ArtifactLifecycleProps;
  /**
   * The lifecycle rule for the blobs model retention tagged for archival (blob index tag), under the prefix.
   * @default - none (no retention)
   */
  readonly archive?: BlobArtifactArchiveProps;
  /**
   * Other prefixes of the container whose blobs are deleted `days` after their creation, each by a rule `id` (a served
   * model's inference log, `inference-logs/model=<name>`); none may overlap `prefix`.
   * @default []
   */
  readonly expiringPrefixes?: readonly { readonly id: string; readonly prefix: string; readonly days: number }[];
  /** Days a deleted blob or version stays recoverable (blob soft delete, 1-365). @default 30 */
  readonly deleteRetentionDays?: number;
  /** Days a deleted container stays recoverable (1-365). @default 30 */
  readonly containerDeleteRetentionDays?: number;
  /** Terraform refuses to destroy the account and its container (production). @default false */
  readonly preventDestroy?: boolean;
  /** Tags on the account and its identity. @default {} */
  readonly tags?: Record<string, string>;
  /** Resources that must exist first (the key's vault firewall, for example). @default [] */
  readonly dependsOn?: ITerraformDependable[];
}

const checkDays = (scope: Construct, field: string, value: number | undefined, min: number, max: number) => {
  if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max))
    throw new PropError(scope, field, value, `a whole number of days from ${min} to ${max}`);
};

/** A CMK-encrypted, private, versioned blob container for MLflow's artifacts, in its own storage account. */
export class BlobArtifactStore extends Construct {
  readonly storageAccount: StorageAccount;
  readonly container: StorageContainer;
  /** The identity the storage account uses to reach its key. */
  readonly cmkIdentity: UserAssignedIdentity;
  /** The prefix MLflow writes under. */
  readonly prefix: string;
  readonly contract: BlobArtifactStoreContract;

  constructor(scope: Construct, id: string, props: BlobArtifactStoreProps) {
    super(scope, id);
    const containerName = props.containerName ?? "mlflow";
    const prefix = props.prefix ?? "mlartifacts";
    const lc = props.lifecycle ?? {};
    const toCool = lc.transitionToInfrequentAccessDays ?? 30;
    const toCold = lc.transitionToGlacierIrDays;
    const versionDays = lc.noncurrentExpireDays ?? 30;
    const deleteRetention = props.deleteRetentionDays ?? 30;
    const containerRetention = props.containerDeleteRetentionDays ?? 30;

    // ── validation ──
    if (!Token.isUnresolved(props.storageAccountName)) {
      const p = storageAccountNameProblem(props.storageAccountName);
      if (p) throw new PropError(this, "storageAccountName", props.storageAccountName, p);
    }
    const c = blobContainerNameProblem(containerName);
    if (c) throw new PropError(this, "containerName", containerName, c);
    if (!isS3KeyPrefix(prefix))
      throw new PropError(this, "prefix", prefix, `a blob name prefix without leading or trailing '/', such as "mlartifacts"`);
    if (props.subnetIds.length === 0)
      throw new PropError(
        this,
        "subnetIds",
        props.subnetIds,
        "at least one subnet id: the AKS nodes' subnet, with the Microsoft.Storage service endpoint (the firewall denies every other network)",
      );
    checkDays(this, "lifecycle.transitionToInfrequentAccessDays", toCool, 30, 36500);
    checkDays(this, "lifecycle.transitionToGlacierIrDays", toCold, 60, 36500);
    checkDays(this, "lifecycle.expireDays", lc.expireDays, 1, 36500);
    checkDays(this, "lifecycle.noncurrentExpireDays", versionDays, 1, 36500);
    checkDays(this, "deleteRetentionDays", deleteRetention, 1, 365);
    checkDays(this, "containerDeleteRetentionDays", containerRetention, 1, 365);
    if (toCold !== undefined && toCold < toCool + 30)
      throw new PropError(
        this,
        "lifecycle.transitionToGlacierIrDays",
        toCold,
        `at least 30 days after transitionToInfrequentAccessDays (>= ${toCool + 30})`,
      );
    if (lc.expireDays !== undefined && lc.expireDays <= (toCold ?? toCool))
      throw new PropError(this, "lifecycle.expireDays", lc.expireDays, `later than the last tier change (> ${toCold ?? toCool})`);
    if (lc.noncurrentVersionsToKeep !== undefined && lc.noncurrentVersionsToKeep !== 0)
      throw new PropError(
        this,
        "lifecycle.noncurrentVersionsToKeep",
        lc.noncurrentVersionsToKeep,
        "0 or unset: Azure's lifecycle rules cannot keep a number of versions; every previous version is deleted noncurrentExpireDays after its creation (raise that to keep them longer)",
      );
    if (lc.noncurrentMaxDays !== undefined)
      throw new PropError(
        this,
        "lifecycle.noncurrentMaxDays",
        lc.noncurrentMaxDays,
        "unset: with no kept versions on Azure, noncurrentExpireDays already deletes every previous version",
      );
    if (lc.abortIncompleteMultipartUploadDays !== undefined)
      throw new PropError(
        this,
        "lifecycle.abortIncompleteMultipartUploadDays",
        lc.abortIncompleteMultipartUploadDays,
        "unset: Azure discards uncommitted blocks a week after the last upload by itself, and no lifecycle rule changes that",
      );

    const archive = props.archive;
    const replication = props.replicationType ?? "ZRS";
    if (archive) {
      // Blob index tags: 1-128 characters of letters, digits, space and + - . / : = _ (values 0-256).
      if (!/^[\w +\-./:=]{1,128}$/.test(archive.tag.key))
        throw new PropError(this, "archive.tag.key", archive.tag.key, "a blob index tag key (1-128 letters, digits, spaces and +-./:=_)");
      if (!/^[\w +\-./:=]{0,256}$/.test(archive.tag.value))
        throw new PropError(
          this,
          "archive.tag.value",
          archive.tag.value,
          "a blob index tag value (0-256 letters, digits, spaces and +-./:=_)",
        );
      checkDays(this, "archive.transitionDays", archive.transitionDays, 1, 36500);
      if (archive.expireDays !== undefined && !(Number.isInteger(archive.expireDays) && archive.expireDays > archive.transitionDays))
        throw new PropError(
          this,
          "archive.expireDays",
          archive.expireDays,
          `a whole number of days later than archive.transitionDays (> ${archive.transitionDays})`,
        );
      if (archive.tier === "Archive" && replication.includes("ZRS"))
        throw new PropError(
          this,
          "archive.tier",
          archive.tier,
          `"Cool" or "Cold": the Archive tier is not available on a ${replication} account`,
        );
    }

    const lifecycle = props.preventDestroy ? { preventDestroy: true } : undefined;
    const tags = props.tags ?? {};

    // ── the identity the account reaches its key with, allowed to wrap and unwrap with that key only ──
    this.cmkIdentity = new UserAssignedIdentity(this, "cmk_identity", {
      name: `${props.storageAccountName}-cmk`,
      resourceGroupName: props.resourceGroupName,
      location: props.location,
      tags,
    });
    const keyUse = new RoleAssignment(this, "cmk_key_use", {
      scope: props.key.resourceVersionlessId,
      roleDefinitionName: KEY_VAULT_CMK_ROLE,
      principalId: this.cmkIdentity.principalId,
      principalType: "ServicePrincipal",
      description: `The storage account ${props.storageAccountName} encrypts with this key`,
    });

    // ── the account ──
    this.storageAccount = new StorageAccount(this, "account", {
      name: props.storageAccountName,
      resourceGroupName: props.resourceGroupName,
      location: props.location,
      accountKind: "StorageV2",
      accountTier: "Standard",
      accountReplicationType: replication,
      accessTier: "Hot",
      minTlsVersion: "TLS1_2",
      httpsTrafficOnlyEnabled: true,
      // Entra ID only: no account key, hence no SAS token, can read an artifact.
      sharedAccessKeyEnabled: false,
      defaultToOauthAuthentication: true,
      allowNestedItemsToBePublic: false,
      crossTenantReplicationEnabled: false,
      localUserEnabled: false,
      sftpEnabled: false,
      isHnsEnabled: false,
      // A second layer of encryption (platform-managed) below the customer-managed one; set at creation only.
      infrastructureEncryptionEnabled: true,
      queueEncryptionKeyType: "Account",
      tableEncryptionKeyType: "Account",
      identity: { type: "UserAssigned", identityIds: [this.cmkIdentity.id] },
      customerManagedKey: { keyVaultKeyId: props.key.versionlessId, userAssignedIdentityId: this.cmkIdentity.id },
      // Reachable from public endpoints only through the firewall: the listed subnets and addresses.
      publicNetworkAccessEnabled: true,
      networkRules: {
        defaultAction: "Deny",
        bypass: ["AzureServices"],
        virtualNetworkSubnetIds: [...props.subnetIds],
        ipRules: [...(props.allowedCidrs ?? [])],
      },
      blobProperties: {
        versioningEnabled: true,
        deleteRetentionPolicy: { days: deleteRetention },
        containerDeleteRetentionPolicy: { days: containerRetention },
      },
      tags,
      lifecycle,
      // The key must be usable by the identity when the account is created with it.
      dependsOn: [keyUse, ...(props.dependsOn ?? [])],
    });

    // Created through Azure Resource Manager (storage_account_id): no data-plane access, which the firewall denies.
    this.container = new StorageContainer(this, "container", {
      name: containerName,
      storageAccountId: this.storageAccount.id,
      containerAccessType: "private",
      lifecycle,
    });

    // ── lifecycle ──
    const rules: StorageManagementPolicyRule[] = [
      {
        name: "artifacts-tiering",
        enabled: true,
        filters: { blobTypes: ["blockBlob"], prefixMatch: [`${containerName}/${prefix}/`] },
        actions: {
          baseBlob: {
            tierToCoolAfterDaysSinceCreationGreaterThan: toCool,
            ...(toCold !== undefined ? { tierToColdAfterDaysSinceCreationGreaterThan: toCold } : {}),
            ...(lc.expireDays !== undefined ? { deleteAfterDaysSinceCreationGreaterThan: lc.expireDays } : {}),
          },
        },
      },
      {
        name: "previous-versions",
        enabled: true,
        filters: { blobTypes: ["blockBlob"], prefixMatch: [`${containerName}/`] },
        actions: { version: { deleteAfterDaysSinceCreation: versionDays } },
      },
      ...(archive
        ? [
            {
              name: "model-retention-archive",
              enabled: true,
              filters: {
                blobTypes: ["blockBlob"],
                prefixMatch: [`${containerName}/${prefix}/`],
                matchBlobIndexTag: [{ name: archive.tag.key, operation: "==", value: archive.tag.value }],
              },
              actions: {
                baseBlob: {
                  ...{
                    Cool: { tierToCoolAfterDaysSinceCreationGreaterThan: archive.transitionDays },
                    Cold: { tierToColdAfterDaysSinceCreationGreaterThan: archive.transitionDays },
                    Archive: { tierToArchiveAfterDaysSinceCreationGreaterThan: archive.transitionDays },
                  }[archive.tier ?? "Cold"],
                  ...(archive.expireDays !== undefined ? { deleteAfterDaysSinceCreationGreaterThan: archive.expireDays } : {}),
                },
              },
            },
          ]
        : []),
    ];
    for (const e of props.expiringPrefixes ?? []) {
      if (!Number.isInteger(e.days) || e.days < 1 || e.days > 36500)
        throw new PropError(this, `expiringPrefixes[${e.id}].days`, e.days, "a whole number of days from 1 to 36500");
      if (e.prefix === prefix || e.prefix.startsWith(`${prefix}/`) || prefix.startsWith(`${e.prefix}/`))
        throw new PropError(
          this,
          "expiringPrefixes",
          e.prefix,
          `prefixes that do not overlap MLflow's artifact prefix "${prefix}": give it a prefix of its own`,
        );
      rules.push({
        name: e.id,
        enabled: true,
        filters: { blobTypes: ["blockBlob"], prefixMatch: [`${containerName}/${e.prefix}/`] },
        actions: { baseBlob: { deleteAfterDaysSinceCreationGreaterThan: e.days } },
      });
    }
    new StorageManagementPolicy(this, "lifecycle", { storageAccountId: this.storageAccount.id, rule: rules });

    this.prefix = prefix;
    this.contract = {
      bucketName: containerName,
      destinationUri: `wasbs://${containerName}@${props.storageAccountName}.blob.core.windows.net/${prefix}`,
      storageAccountName: props.storageAccountName,
      storageAccountId: this.storageAccount.id,
      // The container's Azure Resource Manager id, built from the account's: the scope role assignments name.
      containerScope: `${this.storageAccount.id}/blobServices/default/containers/${containerName}`,
    };
  }
}
