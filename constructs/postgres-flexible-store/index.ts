/**
 * The backend store on Azure: Azure Database for PostgreSQL flexible server with private access only (a subnet
 * delegated to Microsoft.DBforPostgreSQL/flexibleServers and a private DNS zone linked to the cluster's VNet; public
 * network access off), encrypted with a customer-managed Key Vault key through a user-assigned identity, TLS
 * required (require_secure_transport on, TLS 1.2 or later), backups kept 7-35 days, zone-redundant high availability
 * where asked, a weekly maintenance window, a generated administrator and the Kubernetes Secret with its credentials
 * (the same contract as the RDS and Cloud SQL stores'), and a CanNotDelete lock in production.
 *
 * | rule | source |
 * |---|---|
 * | private access: a delegated subnet and a private DNS zone ending in `.postgres.database.azure.com`, linked to the VNet | https://learn.microsoft.com/en-us/azure/postgresql/flexible-server/concepts-networking-private |
 * | the data-encryption mode (service- or customer-managed) is chosen at creation and never changes; CMK needs a user-assigned identity allowed to use the key, and the vault purge protection | https://learn.microsoft.com/en-us/azure/postgresql/flexible-server/concepts-data-encryption |
 * | geo-redundant backup with CMK needs a second identity and a key in the paired region | https://learn.microsoft.com/en-us/azure/postgresql/flexible-server/how-to-data-encryption |
 * | require_secure_transport, ssl_min_protocol_version | https://learn.microsoft.com/en-us/azure/postgresql/flexible-server/concepts-networking-ssl-tls |
 * | backup retention 7-35 days | https://learn.microsoft.com/en-us/azure/postgresql/flexible-server/concepts-backup-restore |
 * | high availability is not offered on the Burstable tier | https://learn.microsoft.com/en-us/azure/postgresql/flexible-server/concepts-high-availability |
 */
import { Construct } from "constructs";
import { Token } from "cdktf";
import { UserAssignedIdentity } from "@cdktf/provider-azurerm/lib/user-assigned-identity";
import { RoleAssignment } from "@cdktf/provider-azurerm/lib/role-assignment";
import { PrivateDnsZone } from "@cdktf/provider-azurerm/lib/private-dns-zone";
import { PrivateDnsZoneVirtualNetworkLink } from "@cdktf/provider-azurerm/lib/private-dns-zone-virtual-network-link";
import { PostgresqlFlexibleServer } from "@cdktf/provider-azurerm/lib/postgresql-flexible-server";
import { PostgresqlFlexibleServerConfiguration } from "@cdktf/provider-azurerm/lib/postgresql-flexible-server-configuration";
import { PostgresqlFlexibleServerDatabase } from "@cdktf/provider-azurerm/lib/postgresql-flexible-server-database";
import { ManagementLock } from "@cdktf/provider-azurerm/lib/management-lock";
import { Password } from "@cdktf/provider-random/lib/password";
import { StringResource } from "@cdktf/provider-random/lib/string-resource";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import type { BackendStoreContract, KeyVaultKeyRef } from "../core/contracts";
import { postgresFlexibleServerNameProblem } from "../core/azure-limits";
import { PropError } from "../core/prop-error";

/** PostgreSQL's port. */
const PORT = 5432;
/** The built-in role a service's identity needs to wrap and unwrap with a Key Vault key (CMK). */
const KEY_VAULT_CMK_ROLE = "Key Vault Crypto Service Encryption User";
/** The storage sizes a flexible server offers (MB). */
export const POSTGRES_FLEXIBLE_STORAGE_MB = [
  32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4193280, 4194304, 8388608, 16777216, 33553408,
] as const;

/** Props of {@link PostgresFlexibleStore}. */
export interface PostgresFlexibleStoreProps {
  /** The server's name: 3-63 lower-case letters, digits and single hyphens; globally unique. Required. */
  readonly serverName: string;
  /** The existing resource group of the server, its DNS zone and identity. Required. */
  readonly resourceGroupName: string;
  /** The server's Azure region. Required. */
  readonly location: string;
  /** A subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers, in (or peered with) the cluster's VNet. Required. */
  readonly delegatedSubnetId: string;
  /** The VNet the private DNS zone is linked to (the cluster's), so pods resolve the server's private address. Required. */
  readonly virtualNetworkId: string;
  /** The Key Vault key that encrypts the server (CMK); the vault needs purge protection. Required. */
  readonly key: KeyVaultKeyRef;
  /** Namespace of the Kubernetes Secret with the credentials (the tracking server's). Required. */
  readonly namespace: string;
  /** PostgreSQL major version. @default "17" */
  readonly engineVersion?: string;
  /** Compute: `<tier>_<family>`, e.g. "GP_Standard_D2ds_v5" (General Purpose), "B_Standard_B1ms" (Burstable). @default "GP_Standard_D2ds_v5" */
  readonly skuName?: string;
  /** Storage in MB, one of the sizes Azure offers (32768, 65536, 131072, ...). @default 32768 */
  readonly storageMb?: number;
  /** Storage grows by itself when nearly full. @default true */
  readonly autoGrow?: boolean;
  /** The availability zone of the server ("1", "2" or "3"). @default - Azure chooses */
  readonly zone?: string;
  /** A standby in another zone with automatic failover (not on Burstable). @default false */
  readonly highAvailability?: boolean;
  /** The standby's zone, with `highAvailability`. @default - Azure chooses */
  readonly standbyZone?: string;
  /** Days of backups kept (7-35). @default 7 */
  readonly backupRetentionDays?: number;
  /** Backups copied to the paired region; needs `geoBackupKey` and `geoBackupLocation` (CMK). @default false */
  readonly geoRedundantBackup?: boolean;
  /** With `geoRedundantBackup`: a key in a vault of the paired region, which encrypts the geo backups. @default - none */
  readonly geoBackupKey?: KeyVaultKeyRef;
  /** With `geoRedundantBackup`: the paired region, where the geo backups' identity is created. @default - none */
  readonly geoBackupLocation?: string;
  /** Weekly maintenance: day (0 = Sunday ... 6) and hour (UTC). @default { dayOfWeek: 0, startHour: 4 } */
  readonly maintenance?: { readonly dayOfWeek: number; readonly startHour: number };
  /** Database name. @default "mlflow" */
  readonly databaseName?: string;
  /** Statements slower than this are logged (ms; 0 logs every statement, -1 none). @default 1000 */
  readonly slowStatementMs?: number;
  /** Name of the Kubernetes Secret with the credentials. @default "mlflow-db" */
  readonly secretName?: string;
  /** A CanNotDelete management lock on the server, and Terraform refuses to destroy it (production). @default false */
  readonly preventDestroy?: boolean;
  /** Tags on the server, its DNS zone and identities. @default {} */
  readonly tags?: Record<string, string>;
}

/**
 * A private, CMK-encrypted, TLS-only PostgreSQL flexible server with its database, administrator and the
 * Kubernetes Secret of its credentials.
 */
export class PostgresFlexibleStore extends Construct {
  readonly server: PostgresqlFlexibleServer;
  readonly privateDnsZone: PrivateDnsZone;
  readonly cmkIdentity: UserAssignedIdentity;
  readonly kubernetesSecret: SecretV1;
  readonly contract: BackendStoreContract;

  constructor(scope: Construct, id: string, props: PostgresFlexibleStoreProps) {
    super(scope, id);
    const engine = props.engineVersion ?? "17";
    const skuName = props.skuName ?? "GP_Standard_D2ds_v5";
    const storageMb = props.storageMb ?? 32768;
    const ha = props.highAvailability ?? false;
    const retention = props.backupRetentionDays ?? 7;
    const geo = props.geoRedundantBackup ?? false;
    const maintenance = props.maintenance ?? { dayOfWeek: 0, startHour: 4 };
    const databaseName = props.databaseName ?? "mlflow";
    const secretName = props.secretName ?? "mlflow-db";
    const slow = props.slowStatementMs ?? 1000;

    // ── validation ──
    if (!Token.isUnresolved(props.serverName)) {
      const p = postgresFlexibleServerNameProblem(props.serverName);
      if (p) throw new PropError(this, "serverName", props.serverName, p);
    }
    if (!/^\d{2}$/.test(engine)) throw new PropError(this, "engineVersion", engine, 'a PostgreSQL major version such as "17"');
    if (!/^(B|GP|MO)_Standard_\w+$/.test(skuName))
      throw new PropError(
        this,
        "skuName",
        skuName,
        'a flexible server compute size such as "GP_Standard_D2ds_v5" or "B_Standard_B1ms" (<tier>_<size>)',
      );
    if (!(POSTGRES_FLEXIBLE_STORAGE_MB as readonly number[]).includes(storageMb))
      throw new PropError(this, "storageMb", storageMb, `one of the sizes Azure offers: ${POSTGRES_FLEXIBLE_STORAGE_MB.join(", ")}`);
    for (const [prop, zone] of [
      ["zone", props.zone],
      ["standbyZone", props.standbyZone],
    ] as const)
      if (zone !== undefined && !["1", "2", "3"].includes(zone))
        throw new PropError(this, prop, zone, 'an availability zone: "1", "2" or "3"');
    if (ha && skuName.startsWith("B_"))
      throw new PropError(
        this,
        "highAvailability",
        ha,
        'false on the Burstable tier (Azure offers no HA there), or a "GP_" or "MO_" skuName',
      );
    if (props.standbyZone !== undefined && !ha)
      throw new PropError(this, "standbyZone", props.standbyZone, "unset without highAvailability (there is no standby)");
    if (ha && props.zone !== undefined && props.standbyZone === props.zone)
      throw new PropError(this, "standbyZone", props.standbyZone, `a zone other than the server's (${props.zone}): zone-redundant HA`);
    if (!Number.isInteger(retention) || retention < 7 || retention > 35)
      throw new PropError(this, "backupRetentionDays", retention, "a whole number of days from 7 to 35");
    if (geo && (props.geoBackupKey === undefined || props.geoBackupLocation === undefined))
      throw new PropError(
        this,
        props.geoBackupKey === undefined ? "geoBackupKey" : "geoBackupLocation",
        undefined,
        "a key in a Key Vault of the paired region and that region (geoBackupKey, geoBackupLocation): a CMK-encrypted server's geo backups are encrypted with a second key, through a second identity; or geoRedundantBackup false",
      );
    if (!geo && (props.geoBackupKey !== undefined || props.geoBackupLocation !== undefined))
      throw new PropError(
        this,
        props.geoBackupKey !== undefined ? "geoBackupKey" : "geoBackupLocation",
        "set",
        "unset without geoRedundantBackup",
      );
    if (!(Number.isInteger(maintenance.dayOfWeek) && maintenance.dayOfWeek >= 0 && maintenance.dayOfWeek <= 6))
      throw new PropError(this, "maintenance.dayOfWeek", maintenance.dayOfWeek, "0 (Sunday) to 6 (Saturday)");
    if (!(Number.isInteger(maintenance.startHour) && maintenance.startHour >= 0 && maintenance.startHour <= 23))
      throw new PropError(this, "maintenance.startHour", maintenance.startHour, "an hour from 0 to 23 (UTC)");
    if (!Number.isInteger(slow) || slow < -1)
      throw new PropError(this, "slowStatementMs", slow, "a whole number of milliseconds, 0 for every statement, -1 for none");

    const tags = props.tags ?? {};
    const lifecycle = props.preventDestroy ? { preventDestroy: true } : undefined;

    // ── the identity the server reaches its key with (and, for geo backups, a second one for the paired region's key) ──
    this.cmkIdentity = new UserAssignedIdentity(this, "cmk_identity", {
      name: `${props.serverName}-cmk`,
      resourceGroupName: props.resourceGroupName,
      location: props.location,
      tags,
    });
    const keyUses = [
      new RoleAssignment(this, "cmk_key_use", {
        scope: props.key.resourceVersionlessId,
        roleDefinitionName: KEY_VAULT_CMK_ROLE,
        principalId: this.cmkIdentity.principalId,
        principalType: "ServicePrincipal",
        description: `The PostgreSQL server ${props.serverName} encrypts with this key`,
      }),
    ];
    let geoIdentity: UserAssignedIdentity | undefined;
    if (geo && props.geoBackupKey && props.geoBackupLocation) {
      geoIdentity = new UserAssignedIdentity(this, "geo_backup_identity", {
        name: `${props.serverName}-geo-cmk`,
        resourceGroupName: props.resourceGroupName,
        location: props.geoBackupLocation,
        tags,
      });
      keyUses.push(
        new RoleAssignment(this, "geo_backup_key_use", {
          scope: props.geoBackupKey.resourceVersionlessId,
          roleDefinitionName: KEY_VAULT_CMK_ROLE,
          principalId: geoIdentity.principalId,
          principalType: "ServicePrincipal",
          description: `The PostgreSQL server ${props.serverName} encrypts its geo backups with this key`,
        }),
      );
    }

    // ── private access: the server's own private DNS zone, resolvable from the cluster's VNet ──
    this.privateDnsZone = new PrivateDnsZone(this, "private_dns_zone", {
      name: `${props.serverName}.private.postgres.database.azure.com`,
      resourceGroupName: props.resourceGroupName,
      tags,
    });
    const link = new PrivateDnsZoneVirtualNetworkLink(this, "private_dns_link", {
      name: `${props.serverName}-vnet`,
      resourceGroupName: props.resourceGroupName,
      privateDnsZoneName: this.privateDnsZone.name,
      virtualNetworkId: props.virtualNetworkId,
      registrationEnabled: false,
      tags,
    });

    // Credentials: generated, URL-safe (they sit inside a postgresql:// URI), as the other stores'.
    const username = new StringResource(this, "username", { length: 10, lower: true, upper: false, numeric: true, special: false });
    const password = new Password(this, "password", {
      length: 40,
      special: true,
      overrideSpecial: "-_",
      minLower: 2,
      minUpper: 2,
      minNumeric: 2,
    });
    const login = `mlflow${username.result}`;

    this.server = new PostgresqlFlexibleServer(this, "server", {
      name: props.serverName,
      resourceGroupName: props.resourceGroupName,
      location: props.location,
      version: engine,
      skuName,
      storageMb,
      autoGrowEnabled: props.autoGrow ?? true,
      ...(props.zone !== undefined ? { zone: props.zone } : {}),
      ...(ha
        ? { highAvailability: { mode: "ZoneRedundant", ...(props.standbyZone ? { standbyAvailabilityZone: props.standbyZone } : {}) } }
        : {}),
      backupRetentionDays: retention,
      geoRedundantBackupEnabled: geo,
      // Private access only: the delegated subnet, the private DNS zone, no public endpoint.
      publicNetworkAccessEnabled: false,
      delegatedSubnetId: props.delegatedSubnetId,
      privateDnsZoneId: this.privateDnsZone.id,
      administratorLogin: login,
      administratorPassword: password.result,
      authentication: { passwordAuthEnabled: true, activeDirectoryAuthEnabled: false },
      identity: { type: "UserAssigned", identityIds: [this.cmkIdentity.id, ...(geoIdentity ? [geoIdentity.id] : [])] },
      customerManagedKey: {
        keyVaultKeyId: props.key.versionlessId,
        primaryUserAssignedIdentityId: this.cmkIdentity.id,
        ...(geoIdentity && props.geoBackupKey
          ? { geoBackupKeyVaultKeyId: props.geoBackupKey.versionlessId, geoBackupUserAssignedIdentityId: geoIdentity.id }
          : {}),
      },
      maintenanceWindow: { dayOfWeek: maintenance.dayOfWeek, startHour: maintenance.startHour, startMinute: 0 },
      tags,
      lifecycle:
        lifecycle || ha
          ? {
              ...(lifecycle ?? {}),
              // A failover swaps the primary's and the standby's zones: a plan must not move them back.
              ...(ha ? { ignoreChanges: ["zone", "high_availability[0].standby_availability_zone"] } : {}),
            }
          : undefined,
      // The key must be usable at creation, and the zone linked before the server registers its address in it.
      dependsOn: [...keyUses, link],
    });

    const settings: Record<string, string> = {
      require_secure_transport: "on",
      ssl_min_protocol_version: "TLSv1.2",
      log_min_duration_statement: String(slow),
      // Who connected, from where and for how long, and the checkpoints' write load: the trail an incident on the
      // tracking server's database starts from.
      log_connections: "on",
      log_disconnections: "on",
      log_checkpoints: "on",
    };
    for (const [name, value] of Object.entries(settings))
      new PostgresqlFlexibleServerConfiguration(this, `config_${name}`, { name, serverId: this.server.id, value });

    const database = new PostgresqlFlexibleServerDatabase(this, "database", {
      name: databaseName,
      serverId: this.server.id,
      charset: "UTF8",
      collation: "en_US.utf8",
      lifecycle,
    });
    if (props.preventDestroy)
      new ManagementLock(this, "lock", {
        name: `${props.serverName}-cannot-delete`,
        scope: this.server.id,
        lockLevel: "CanNotDelete",
        notes: "The MLflow tracking server's database: remove this lock on purpose before deleting the server",
      });

    this.kubernetesSecret = new SecretV1(this, "kubernetes_secret", {
      metadata: {
        name: secretName,
        namespace: props.namespace,
        labels: { "app.kubernetes.io/component": "backend-store", "app.kubernetes.io/managed-by": "cdktf" },
      },
      type: "Opaque",
      data: { username: login, password: password.result },
      dependsOn: [database],
    });

    this.contract = {
      host: this.server.fqdn,
      port: PORT,
      database: databaseName,
      credentials: { secretName, usernameKey: "username", passwordKey: "password" },
    };
  }
}
