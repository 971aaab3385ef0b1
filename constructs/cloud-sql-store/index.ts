/**
 * The backend store on Google Cloud: Cloud SQL for PostgreSQL with a private IP only (no public address, no
 * authorized networks), encrypted with its own Cloud KMS key (CMEK), TLS required (`ssl_mode`
 * ENCRYPTED_ONLY or stricter), daily backups with point-in-time recovery, deletion protection where asked
 * (always in production: the schema requires it), a generated user and password, and the Kubernetes Secret
 * with the credentials the tracking server reads (the same contract as the RDS store's).
 */
import { Construct } from "constructs";
import { Token } from "cdktf";
import { SqlDatabaseInstance } from "@cdktf/provider-google/lib/sql-database-instance";
import { SqlDatabase } from "@cdktf/provider-google/lib/sql-database";
import { SqlUser } from "@cdktf/provider-google/lib/sql-user";
import { KmsCryptoKey } from "@cdktf/provider-google/lib/kms-crypto-key";
import { KmsCryptoKeyIamMember } from "@cdktf/provider-google/lib/kms-crypto-key-iam-member";
import { Password } from "@cdktf/provider-random/lib/password";
import { StringResource } from "@cdktf/provider-random/lib/string-resource";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import type { BackendStoreContract } from "../core/contracts";
import { CLOUD_SQL_ENCRYPTED_SSL_MODES, sqlInstanceIdProblem } from "../core/gcp-limits";
import { PropError } from "../core/prop-error";

/** PostgreSQL's port (Cloud SQL's private IP listens on it). */
const PORT = 5432;

/** Props of {@link CloudSqlStore}. */
export interface CloudSqlStoreProps {
  /** Cloud SQL instance id (lower-case letters, digits, hyphens; a letter first; at most 98). Required. */
  readonly instanceId: string;
  /** The Google Cloud project. Required. */
  readonly projectId: string;
  /** The project's number: Cloud SQL's service agent (`service-<number>@gcp-sa-cloud-sql...`) is granted the key. Required. */
  readonly projectNumber: string;
  /** The instance's region. Required. */
  readonly region: string;
  /** Zones: the primary's, then the standby's (with `highAvailability`). Required. */
  readonly zones: readonly string[];
  /** The VPC network (its id or self link) the private IP is allocated in; private services access must be set up on it. Required. */
  readonly networkId: string;
  /** The key ring the instance's key is created in. Required. */
  readonly keyRingId: string;
  /** Namespace of the Kubernetes Secret with the credentials (the tracking server's). Required. */
  readonly namespace: string;
  /** PostgreSQL major version. @default "17" */
  readonly engineVersion?: string;
  /** Machine tier, e.g. "db-custom-2-7680". Required. */
  readonly tier: string;
  /** @default "ENTERPRISE" */
  readonly edition?: "ENTERPRISE" | "ENTERPRISE_PLUS";
  /** Initial disk size (GB). @default 20 */
  readonly diskSizeGb?: number;
  /** Storage autoscaling ceiling (GB). @default 100 */
  readonly diskAutoresizeLimitGb?: number;
  /** A standby in the second zone with automatic failover. @default false */
  readonly highAvailability?: boolean;
  /** Cloud SQL (and Terraform) refuse to delete the instance. @default true */
  readonly deletionProtection?: boolean;
  /** Daily backups kept. @default 7 */
  readonly backupRetentionDays?: number;
  /** Days of transaction logs for point-in-time recovery. @default 7 */
  readonly pointInTimeRecoveryDays?: number;
  /** Start of the daily backup window (UTC, HH:MM). @default "02:00" */
  readonly backupStartTime?: string;
  /** Weekly maintenance: day (1 = Monday) and hour (UTC). @default { day: 7, hour: 4 } */
  readonly maintenance?: { readonly day: number; readonly hour: number };
  /** `ssl_mode`: only encrypted connections. @default "ENCRYPTED_ONLY" */
  readonly sslMode?: (typeof CLOUD_SQL_ENCRYPTED_SSL_MODES)[number];
  /** Database name. @default "mlflow" */
  readonly databaseName?: string;
  /** Statements slower than this are logged (ms; 0 logs every statement). @default 1000 */
  readonly slowStatementMs?: number;
  /** Name of the Kubernetes Secret with the credentials. @default "mlflow-db" */
  readonly secretName?: string;
  /** Labels on the instance and its key. @default {} */
  readonly labels?: Record<string, string>;
}

/**
 * A private, CMEK-encrypted, TLS-only Cloud SQL for PostgreSQL instance with its database, user and the
 * Kubernetes Secret of its credentials.
 */
export class CloudSqlStore extends Construct {
  readonly instance: SqlDatabaseInstance;
  readonly key: KmsCryptoKey;
  readonly kubernetesSecret: SecretV1;
  readonly contract: BackendStoreContract;

  constructor(scope: Construct, id: string, props: CloudSqlStoreProps) {
    super(scope, id);
    const sslMode = props.sslMode ?? "ENCRYPTED_ONLY";
    const ha = props.highAvailability ?? false;
    const deletionProtection = props.deletionProtection ?? true;
    const databaseName = props.databaseName ?? "mlflow";
    const secretName = props.secretName ?? "mlflow-db";
    const engine = props.engineVersion ?? "17";
    const maintenance = props.maintenance ?? { day: 7, hour: 4 };

    // ── validation ──
    if (!Token.isUnresolved(props.instanceId)) {
      const p = sqlInstanceIdProblem(props.instanceId);
      if (p) throw new PropError(this, "instanceId", props.instanceId, p);
    }
    if (!(CLOUD_SQL_ENCRYPTED_SSL_MODES as readonly string[]).includes(sslMode))
      throw new PropError(this, "sslMode", sslMode, `one of ${CLOUD_SQL_ENCRYPTED_SSL_MODES.join(", ")} (no unencrypted connection)`);
    if (ha && props.zones.length < 2)
      throw new PropError(this, "zones", props.zones, "two zones with highAvailability (the standby's is the second)");
    if (props.zones.length < 1) throw new PropError(this, "zones", props.zones, "at least one zone");
    if (!/^\d{2}$/.test(engine)) throw new PropError(this, "engineVersion", engine, 'a PostgreSQL major version such as "17"');

    const lifecycle = deletionProtection ? { preventDestroy: true } : undefined;
    const labels = props.labels ?? {};

    // ── the key, and Cloud SQL's service agent allowed to use it ──
    this.key = new KmsCryptoKey(this, "key", {
      name: "database",
      keyRing: props.keyRingId,
      purpose: "ENCRYPT_DECRYPT",
      rotationPeriod: `${90 * 86400}s`,
      labels,
      lifecycle,
    });
    const keyUse = new KmsCryptoKeyIamMember(this, "key_use", {
      cryptoKeyId: this.key.id,
      role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
      member: `serviceAccount:service-${props.projectNumber}@gcp-sa-cloud-sql.iam.gserviceaccount.com`,
    });

    this.instance = new SqlDatabaseInstance(this, "instance", {
      name: props.instanceId,
      project: props.projectId,
      region: props.region,
      databaseVersion: `POSTGRES_${engine}`,
      encryptionKeyName: this.key.id,
      deletionProtection,
      settings: {
        tier: props.tier,
        edition: props.edition ?? "ENTERPRISE",
        availabilityType: ha ? "REGIONAL" : "ZONAL",
        diskType: "PD_SSD",
        diskSize: props.diskSizeGb ?? 20,
        diskAutoresize: true,
        diskAutoresizeLimit: props.diskAutoresizeLimitGb ?? 100,
        deletionProtectionEnabled: deletionProtection,
        locationPreference: { zone: props.zones[0], ...(ha ? { secondaryZone: props.zones[1] } : {}) },
        ipConfiguration: {
          // Private IP only: no public address, hence no authorized network to open.
          ipv4Enabled: false,
          privateNetwork: props.networkId,
          sslMode,
          enablePrivatePathForGoogleCloudServices: false,
        },
        backupConfiguration: {
          enabled: true,
          startTime: props.backupStartTime ?? "02:00",
          pointInTimeRecoveryEnabled: true,
          transactionLogRetentionDays: props.pointInTimeRecoveryDays ?? 7,
          backupRetentionSettings: { retainedBackups: props.backupRetentionDays ?? 7, retentionUnit: "COUNT" },
        },
        maintenanceWindow: { day: maintenance.day, hour: maintenance.hour, updateTrack: "stable" },
        databaseFlags: [
          { name: "log_min_duration_statement", value: String(props.slowStatementMs ?? 1000) },
          // Who connected, from where and for how long, and the checkpoints' write load, in Cloud Logging: the
          // trail an incident on the tracking server's database starts from (CIS GCP 6.2).
          { name: "log_connections", value: "on" },
          { name: "log_disconnections", value: "on" },
          { name: "log_checkpoints", value: "on" },
        ],
        userLabels: labels,
      },
      lifecycle,
      // Cloud SQL checks at creation that its agent may use the key.
      dependsOn: [keyUse],
    });

    const database = new SqlDatabase(this, "database", { name: databaseName, instance: this.instance.name, project: props.projectId });
    // Credentials: generated, URL-safe (they sit inside a postgresql:// URI), as the RDS store's.
    const username = new StringResource(this, "username", { length: 10, lower: true, upper: false, numeric: true, special: false });
    const password = new Password(this, "password", {
      length: 40,
      special: true,
      overrideSpecial: "-_",
      minLower: 2,
      minUpper: 2,
      minNumeric: 2,
    });
    const user = new SqlUser(this, "user", {
      name: `mlflow${username.result}`,
      instance: this.instance.name,
      project: props.projectId,
      password: password.result,
      type: "BUILT_IN",
      dependsOn: [database],
    });
    this.kubernetesSecret = new SecretV1(this, "kubernetes_secret", {
      metadata: {
        name: secretName,
        namespace: props.namespace,
        labels: { "app.kubernetes.io/component": "backend-store", "app.kubernetes.io/managed-by": "cdktf" },
      },
      type: "Opaque",
      data: { username: user.name, password: password.result },
    });

    this.contract = {
      host: this.instance.privateIpAddress,
      port: PORT,
      database: databaseName,
      credentials: { secretName, usernameKey: "username", passwordKey: "password" },
    };
  }
}
