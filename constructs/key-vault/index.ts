/**
 * The environment's Azure Key Vault, where the customer-managed keys of its storage account, database and registry
 * live:
 *
 * | setting | why | source |
 * |---|---|---|
 * | Azure RBAC authorization (no access policies) | who may use a key is a role assignment on that key, reviewed like any other grant | https://learn.microsoft.com/en-us/azure/key-vault/general/rbac-guide |
 * | purge protection on, soft delete 90 days | Azure Storage (and PostgreSQL, ACR) refuse a customer-managed key from a vault without both: a purged key would make the data unreadable for good | https://learn.microsoft.com/en-us/azure/storage/common/customer-managed-keys-configure-existing-account |
 * | network ACL: default Deny, bypass AzureServices, `allowedCidrs` | the services using the keys are trusted Azure services; people and Terraform come from the listed networks only | https://learn.microsoft.com/en-us/azure/key-vault/general/network-security |
 * | keys: RSA 3072 (RSA-HSM in a premium vault), rotated every `rotationDays`, expiring a year after each version's creation | the services above follow a versionless key id to its newest version | https://learn.microsoft.com/en-us/azure/key-vault/keys/how-to-configure-key-rotation |
 */
import { Construct } from "constructs";
import { Token } from "cdktf";
import { KeyVault as AzKeyVault } from "@cdktf/provider-azurerm/lib/key-vault";
import { KeyVaultKey } from "@cdktf/provider-azurerm/lib/key-vault-key";
import { RoleAssignment } from "@cdktf/provider-azurerm/lib/role-assignment";
import { keyVaultNameProblem } from "../core/azure-limits";
import { PropError } from "../core/prop-error";

/** Props of {@link KeyVault}. */
export interface KeyVaultProps {
  /** The vault's name: 3-24 letters, digits and single hyphens, a letter first; globally unique. Required. */
  readonly name: string;
  /** The existing resource group the vault goes in. Required. */
  readonly resourceGroupName: string;
  /** The vault's Azure region (programmatic name, e.g. "westeurope"). Required. */
  readonly location: string;
  /** The Microsoft Entra tenant (a GUID) that authenticates requests to the vault. Required. */
  readonly tenantId: string;
  /**
   * Public IPv4 addresses or CIDRs allowed through the vault's firewall: where Terraform runs from (it creates and
   * rotates the keys). Empty: trusted Azure services only.
   * @default []
   */
  readonly allowedCidrs?: readonly string[];
  /**
   * Principals (object ids) that manage the keys: granted "Key Vault Crypto Officer" on this vault. The identity
   * Terraform runs as needs it (or an inherited equivalent) to create the keys of an RBAC vault.
   * @default []
   */
  readonly keyAdministratorPrincipalIds?: readonly string[];
  /** Days a deleted vault or key stays recoverable (7-90). @default 90 */
  readonly softDeleteRetentionDays?: number;
  /** "standard" (software-protected keys) or "premium" (keys made by `keyFor` are HSM-protected, RSA-HSM). @default "standard" */
  readonly skuName?: "standard" | "premium";
  /** Terraform refuses to destroy the vault and its keys (production). @default false */
  readonly preventDestroy?: boolean;
  /** Tags on the vault and its keys. @default {} */
  readonly tags?: Record<string, string>;
}

/** Options of {@link KeyVault.keyFor}. */
export interface KeyVaultKeyOptions {
  /** RSA key size: 2048, 3072 or 4096 bits. @default 3072 */
  readonly keySize?: 2048 | 3072 | 4096;
  /** A new key version is created this many days after the last one. @default 90 */
  readonly rotationDays?: number;
}

/** IPv4 address or CIDR (the vault's firewall takes IPv4 only). */
const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}(\/(3[0-2]|[12]?\d))?$/;

/** A key vault with RBAC authorization, purge protection and a closed firewall, and the keys the stores encrypt with. */
export class KeyVault extends Construct {
  readonly vault: AzKeyVault;
  /** The vault's resource id, the scope of role assignments on it. */
  readonly vaultId: string;
  private readonly tags: Record<string, string>;
  private readonly lifecycle?: { preventDestroy: boolean };
  private readonly keyDependencies: RoleAssignment[];
  private readonly hsm: boolean;

  constructor(scope: Construct, id: string, props: KeyVaultProps) {
    super(scope, id);
    const retention = props.softDeleteRetentionDays ?? 90;
    const allowedCidrs = props.allowedCidrs ?? [];
    if (!Token.isUnresolved(props.name)) {
      const p = keyVaultNameProblem(props.name);
      if (p) throw new PropError(this, "name", props.name, p);
    }
    if (!Number.isInteger(retention) || retention < 7 || retention > 90)
      throw new PropError(
        this,
        "softDeleteRetentionDays",
        retention,
        "a whole number of days from 7 to 90 (Key Vault's soft-delete range)",
      );
    allowedCidrs.forEach((cidr, i) => {
      if (Token.isUnresolved(cidr)) return;
      if (!IPV4_CIDR.test(cidr))
        throw new PropError(
          this,
          `allowedCidrs[${i}]`,
          cidr,
          'a public IPv4 address or CIDR such as "203.0.113.0/24" (the vault firewall takes IPv4 only)',
        );
      if (/\/0$/.test(cidr))
        throw new PropError(this, `allowedCidrs[${i}]`, cidr, "a network narrower than /0: list where Terraform runs from");
    });

    this.hsm = props.skuName === "premium";
    this.tags = props.tags ?? {};
    this.lifecycle = props.preventDestroy ? { preventDestroy: true } : undefined;
    this.vault = new AzKeyVault(this, "vault", {
      name: props.name,
      resourceGroupName: props.resourceGroupName,
      location: props.location,
      tenantId: props.tenantId,
      skuName: props.skuName ?? "standard",
      rbacAuthorizationEnabled: true,
      purgeProtectionEnabled: true,
      softDeleteRetentionDays: retention,
      publicNetworkAccessEnabled: true, // reachable only through the firewall below: default Deny
      networkAcls: { defaultAction: "Deny", bypass: "AzureServices", ipRules: [...allowedCidrs] },
      enabledForDeployment: false,
      enabledForDiskEncryption: false,
      enabledForTemplateDeployment: false,
      tags: this.tags,
      lifecycle: this.lifecycle,
    });
    this.vaultId = this.vault.id;
    this.keyDependencies = (props.keyAdministratorPrincipalIds ?? []).map(
      (principalId, i) =>
        new RoleAssignment(this, `key_administrator_${i}`, {
          scope: this.vault.id,
          roleDefinitionName: "Key Vault Crypto Officer",
          principalId,
          description: "Manages the customer-managed keys of the MLflow platform",
        }),
    );
  }

  /**
   * A customer-managed key in this vault: RSA, rotated automatically. `id` is the construct id, `name` the key's
   * name in the vault (1-127 letters, digits and hyphens).
   */
  keyFor(id: string, name: string, options: KeyVaultKeyOptions = {}): KeyVaultKey {
    const keySize = options.keySize ?? 3072;
    const rotationDays = options.rotationDays ?? 90;
    if (!/^[a-zA-Z0-9-]{1,127}$/.test(name))
      throw new PropError(this, `keyFor[${id}].name`, name, "a key name of 1-127 letters, digits and hyphens");
    if (![2048, 3072, 4096].includes(keySize)) throw new PropError(this, `keyFor[${id}].keySize`, keySize, "2048, 3072 or 4096");
    if (!Number.isInteger(rotationDays) || rotationDays < 7 || rotationDays > 300)
      throw new PropError(
        this,
        `keyFor[${id}].rotationDays`,
        rotationDays,
        "a whole number of days from 7 to 300 (a version rotates well before its one-year expiry)",
      );
    return new KeyVaultKey(this, id, {
      name,
      keyVaultId: this.vault.id,
      // A premium vault keeps its keys in HSMs: what paying for premium is for.
      keyType: this.hsm ? "RSA-HSM" : "RSA",
      keySize,
      keyOpts: ["unwrapKey", "wrapKey"],
      rotationPolicy: {
        automatic: { timeAfterCreation: `P${rotationDays}D` },
        expireAfter: "P365D",
        notifyBeforeExpiry: "P30D",
      },
      tags: this.tags,
      lifecycle: this.lifecycle,
      dependsOn: this.keyDependencies,
    });
  }
}
