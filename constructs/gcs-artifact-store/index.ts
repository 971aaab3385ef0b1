/**
 * The artifact store on Google Cloud: a Cloud Storage bucket encrypted with its own Cloud KMS key
 * (CMEK), uniform bucket-level access (no object ACLs), public access prevention enforced, object
 * versioning, and lifecycle rules that mean what the S3 store's do (constructs/artifact-store):
 *
 * | S3 rule | Cloud Storage rule |
 * |---|---|
 * | STANDARD_IA after N days, under the prefix | SetStorageClass NEARLINE at age N, under the prefix (30-day minimum storage both) |
 * | GLACIER_IR after M days | SetStorageClass COLDLINE at age M (millisecond reads, 90-day minimum both) |
 * | expiration after E days | Delete live objects at age E (on a versioned bucket: they become noncurrent) |
 * | noncurrent versions beyond the newest K expire D days after becoming noncurrent | Delete noncurrent versions D days after they became noncurrent with at least K+1 newer versions (Cloud Storage counts the live version among the newer ones: K+1 keeps K noncurrent ones, and one more after the object is deleted, never fewer) |
 * | every noncurrent version expires after X days | Delete noncurrent versions X days after they became noncurrent |
 * | incomplete multipart uploads aborted after U days | AbortIncompleteMultipartUpload at age U |
 * | `archive`: objects tagged for archival move to a colder class T days after creation | `archive`: objects whose Custom-Time the retention job set move T days after that time (`daysSinceCustomTime`) |
 *
 * Model retention (constructs/model-retention) cannot tag a Cloud Storage object; it sets the object's
 * `customTime` to the time of archival instead, and the `archive` rules use the lifecycle condition
 * `daysSinceCustomTime` (https://cloud.google.com/storage/docs/lifecycle#dayssincecustomtime), limited to the
 * prefix and to live objects. Nothing else in the platform sets a Custom-Time.
 *
 * Cloud Storage serves its APIs over HTTPS only, so the S3 store's TLS-only bucket policy has no
 * counterpart here; nobody but the identities bound with IAM reaches the bucket.
 */
import { Construct } from "constructs";
import { Token, type ITerraformDependable } from "cdktf";
import { StorageBucket, type StorageBucketLifecycleRule } from "@cdktf/provider-google/lib/storage-bucket";
import { KmsCryptoKey } from "@cdktf/provider-google/lib/kms-crypto-key";
import { KmsCryptoKeyIamMember } from "@cdktf/provider-google/lib/kms-crypto-key-iam-member";
import { DataGoogleStorageProjectServiceAccount } from "@cdktf/provider-google/lib/data-google-storage-project-service-account";
import type { ArtifactLifecycleProps } from "../artifact-store";
import type { GcsArtifactStoreContract } from "../core/contracts";
import { gcsBucketNameProblem } from "../core/gcp-limits";
import { isS3KeyPrefix } from "../core/s3-prefix";
import { PropError } from "../core/prop-error";

/** The lifecycle rules for objects model retention archived (see {@link GcsArtifactStoreProps.archive}). */
export interface GcsArtifactArchiveProps {
  /** Days after an object's Custom-Time (set by the retention job when it archives it) at which it moves to `storageClass`. Required. */
  readonly transitionDays: number;
  /** The class archived objects move to (every Cloud Storage class reads in milliseconds). @default "COLDLINE" */
  readonly storageClass?: "NEARLINE" | "COLDLINE" | "ARCHIVE";
  /** Days after an object's Custom-Time at which an archived object is deleted (becomes noncurrent). @default - never */
  readonly expireDays?: number;
}

/** Cloud Storage's classes, warmest first: a SetStorageClass rule only ever moves an object to a colder one. */
const GCS_CLASSES = ["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"] as const;

/** Props of {@link GcsArtifactStore}. */
export interface GcsArtifactStoreProps {
  /** Globally unique bucket name (Cloud Storage's naming rules). Required. */
  readonly bucketName: string;
  /** The Google Cloud project of the bucket and its key. Required. */
  readonly projectId: string;
  /** The bucket's location: the environment's region, where its key lives too. Required. */
  readonly location: string;
  /** The Cloud KMS key ring (`projects/<p>/locations/<region>/keyRings/<name>`) the bucket's key is created in. Required. */
  readonly keyRingId: string;
  /**
   * Object name prefix MLflow writes under; the lifecycle's storage-class and expiry rules apply to it.
   * @default "mlartifacts"
   */
  readonly prefix?: string;
  /** Let `terraform destroy` delete a bucket that still holds objects. @default false */
  readonly forceDestroy?: boolean;
  /** Terraform refuses to destroy the bucket and its key (production). @default false */
  readonly preventDestroy?: boolean;
  /** Lifecycle rules, with the S3 store's meaning (see the table above). @default - the defaults of each field */
  readonly lifecycle?: ArtifactLifecycleProps;
  /**
   * Lifecycle rules for the objects model retention archived (their Custom-Time set), under the prefix.
   * @default - none (no retention)
   */
  readonly archive?: GcsArtifactArchiveProps;
  /**
   * Other prefixes of the bucket whose objects are deleted `days` after they were written (the served models'
   * inference logs, `inference-logs/model=<name>`), as the S3 store's. None may overlap `prefix`.
   * @default []
   */
  readonly expiringPrefixes?: readonly { readonly id: string; readonly prefix: string; readonly days: number }[];
  /**
   * How often Cloud KMS rotates the key (days).
   * @default 90
   */
  readonly keyRotationDays?: number;
  /** Labels on the bucket and the key. @default {} */
  readonly labels?: Record<string, string>;
  /** Resources that must exist first. @default [] */
  readonly dependsOn?: ITerraformDependable[];
}

const checkDays = (scope: Construct, field: string, value: number | undefined, min: number, max: number) => {
  if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max))
    throw new PropError(scope, `lifecycle.${field}`, value, `a whole number of days from ${min} to ${max}`);
};

/** The `archive` rules: counted from the Custom-Time the retention job sets, on live objects under the prefix. */
function archiveRules(archive: GcsArtifactArchiveProps, under: string[]): StorageBucketLifecycleRule[] {
  const to = archive.storageClass ?? "COLDLINE";
  const warmer = GCS_CLASSES.slice(0, GCS_CLASSES.indexOf(to));
  return [
    {
      action: { type: "SetStorageClass", storageClass: to },
      condition: { daysSinceCustomTime: archive.transitionDays, matchesPrefix: under, matchesStorageClass: [...warmer], withState: "LIVE" },
    },
    ...(archive.expireDays !== undefined
      ? [{ action: { type: "Delete" }, condition: { daysSinceCustomTime: archive.expireDays, matchesPrefix: under, withState: "LIVE" } }]
      : []),
  ];
}

/**
 * A CMEK-encrypted, private, versioned Cloud Storage bucket for MLflow's artifacts.
 *
 * ```ts
 * const store = new GcsArtifactStore(this, "artifact_store", { bucketName, projectId, location: "europe-west1", keyRingId });
 * store.contract.destinationUri; // gs://<bucket>/mlartifacts
 * ```
 */
export class GcsArtifactStore extends Construct {
  readonly bucket: StorageBucket;
  readonly key: KmsCryptoKey;
  /** The prefix MLflow writes under. */
  readonly prefix: string;
  readonly contract: GcsArtifactStoreContract;

  constructor(scope: Construct, id: string, props: GcsArtifactStoreProps) {
    super(scope, id);
    const prefix = props.prefix ?? "mlartifacts";
    const lc = props.lifecycle ?? {};
    const toNearline = lc.transitionToInfrequentAccessDays ?? 30;
    const toColdline = lc.transitionToGlacierIrDays;
    const keep = lc.noncurrentVersionsToKeep ?? 3;
    const noncurrentDays = lc.noncurrentExpireDays ?? 30;
    const noncurrentMax = lc.noncurrentMaxDays ?? 365;
    const abortDays = lc.abortIncompleteMultipartUploadDays ?? 3;
    const rotationDays = props.keyRotationDays ?? 90;

    // ── validation ──
    if (!Token.isUnresolved(props.bucketName)) {
      const p = gcsBucketNameProblem(props.bucketName);
      if (p) throw new PropError(this, "bucketName", props.bucketName, p);
    }
    if (!isS3KeyPrefix(prefix))
      throw new PropError(this, "prefix", prefix, `an object name prefix without leading or trailing '/', such as "mlartifacts"`);
    if (props.forceDestroy && props.preventDestroy)
      throw new PropError(this, "forceDestroy", props.forceDestroy, "false while preventDestroy is true");
    checkDays(this, "transitionToInfrequentAccessDays", toNearline, 30, 36500);
    checkDays(this, "transitionToGlacierIrDays", toColdline, 60, 36500);
    checkDays(this, "expireDays", lc.expireDays, 1, 36500);
    checkDays(this, "noncurrentVersionsToKeep", keep, 0, 100);
    checkDays(this, "noncurrentExpireDays", noncurrentDays, 1, 36500);
    checkDays(this, "noncurrentMaxDays", noncurrentMax, 1, 36500);
    checkDays(this, "abortIncompleteMultipartUploadDays", abortDays, 1, 365);
    if (toColdline !== undefined && toColdline < toNearline + 30)
      throw new PropError(
        this,
        "lifecycle.transitionToGlacierIrDays",
        toColdline,
        `at least 30 days after transitionToInfrequentAccessDays (>= ${toNearline + 30})`,
      );
    if (lc.expireDays !== undefined && lc.expireDays <= (toColdline ?? toNearline))
      throw new PropError(
        this,
        "lifecycle.expireDays",
        lc.expireDays,
        `later than the last storage-class transition (> ${toColdline ?? toNearline})`,
      );
    const archive = props.archive;
    if (archive) {
      if (!Number.isInteger(archive.transitionDays) || archive.transitionDays < 1 || archive.transitionDays > 36500)
        throw new PropError(this, "archive.transitionDays", archive.transitionDays, "a whole number of days from 1 to 36500");
      if (archive.storageClass !== undefined && !GCS_CLASSES.slice(1).includes(archive.storageClass))
        throw new PropError(this, "archive.storageClass", archive.storageClass, `one of ${GCS_CLASSES.slice(1).join(", ")}`);
      if (archive.expireDays !== undefined && !(Number.isInteger(archive.expireDays) && archive.expireDays > archive.transitionDays))
        throw new PropError(
          this,
          "archive.expireDays",
          archive.expireDays,
          `a whole number of days later than archive.transitionDays (> ${archive.transitionDays})`,
        );
    }
    for (const e of props.expiringPrefixes ?? []) {
      if (!(Number.isInteger(e.days) && e.days >= 1 && e.days <= 36500))
        throw new PropError(this, `expiringPrefixes[${e.id}].days`, e.days, "a whole number of days from 1 to 36500");
      if (!isS3KeyPrefix(e.prefix, { partitions: true }))
        throw new PropError(this, `expiringPrefixes[${e.id}].prefix`, e.prefix, "an object name prefix without leading or trailing '/'");
      if (e.prefix === prefix || e.prefix.startsWith(`${prefix}/`) || prefix.startsWith(`${e.prefix}/`))
        throw new PropError(
          this,
          "expiringPrefixes",
          e.prefix,
          `prefixes that do not overlap MLflow's artifact prefix "${prefix}": give it a prefix of its own`,
        );
    }
    if (!Number.isInteger(rotationDays) || rotationDays < 1 || rotationDays > 36500)
      throw new PropError(this, "keyRotationDays", rotationDays, "a whole number of days from 1 to 36500");

    const lifecycle = props.preventDestroy ? { preventDestroy: true } : undefined;
    const labels = props.labels ?? {};

    // ── the key, and Cloud Storage's service agent allowed to use it (CMEK) ──
    this.key = new KmsCryptoKey(this, "key", {
      // One key per store in the stack's own key ring (key names allow no dots, bucket names do).
      name: "artifacts",
      keyRing: props.keyRingId,
      purpose: "ENCRYPT_DECRYPT",
      rotationPeriod: `${rotationDays * 86400}s`,
      labels,
      lifecycle,
    });
    const agent = new DataGoogleStorageProjectServiceAccount(this, "storage_agent", { project: props.projectId });
    const keyUse = new KmsCryptoKeyIamMember(this, "key_use", {
      cryptoKeyId: this.key.id,
      role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
      member: `serviceAccount:${agent.emailAddress}`,
    });

    // ── the bucket ──
    const under = [`${prefix}/`];
    const rules: StorageBucketLifecycleRule[] = [
      {
        action: { type: "SetStorageClass", storageClass: "NEARLINE" },
        condition: { age: toNearline, matchesPrefix: under, matchesStorageClass: ["STANDARD"], withState: "LIVE" },
      },
      ...(toColdline !== undefined
        ? [
            {
              action: { type: "SetStorageClass", storageClass: "COLDLINE" },
              condition: { age: toColdline, matchesPrefix: under, matchesStorageClass: ["STANDARD", "NEARLINE"], withState: "LIVE" },
            },
          ]
        : []),
      ...(lc.expireDays !== undefined
        ? [{ action: { type: "Delete" }, condition: { age: lc.expireDays, matchesPrefix: under, withState: "LIVE" } }]
        : []),
      {
        action: { type: "Delete" },
        condition: { daysSinceNoncurrentTime: noncurrentDays, withState: "ARCHIVED", ...(keep > 0 ? { numNewerVersions: keep + 1 } : {}) },
      },
      ...(keep > 0 ? [{ action: { type: "Delete" }, condition: { daysSinceNoncurrentTime: noncurrentMax, withState: "ARCHIVED" } }] : []),
      { action: { type: "AbortIncompleteMultipartUpload" }, condition: { age: abortDays } },
      ...(archive ? archiveRules(archive, under) : []),
      // A live object becomes noncurrent (versioning); the noncurrent rules above then delete it.
      ...(props.expiringPrefixes ?? []).map((e) => ({
        action: { type: "Delete" },
        condition: { age: e.days, matchesPrefix: [`${e.prefix}/`], withState: "LIVE" },
      })),
    ];
    this.bucket = new StorageBucket(this, "bucket", {
      name: props.bucketName,
      project: props.projectId,
      location: props.location,
      storageClass: "STANDARD",
      uniformBucketLevelAccess: true,
      publicAccessPrevention: "enforced",
      versioning: { enabled: true },
      encryption: { defaultKmsKeyName: this.key.id },
      lifecycleRule: rules,
      forceDestroy: props.forceDestroy ?? false,
      labels,
      lifecycle,
      // Cloud Storage checks at creation that its agent may use the key.
      dependsOn: [keyUse, ...(props.dependsOn ?? [])],
    });

    this.prefix = prefix;
    this.contract = {
      bucketName: props.bucketName,
      destinationUri: `gs://${props.bucketName}/${prefix}`,
      kmsKeyName: this.key.id,
    };
  }
}
