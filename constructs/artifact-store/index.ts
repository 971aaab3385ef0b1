/**
 * The artifact store: the S3 bucket where MLflow keeps run artifacts, logged models and traces, with
 * its customer-managed KMS key, lifecycle rules, optional access logging and optional cross-region
 * replication. Everything a data scientist logs ends up here; the defaults are chosen so that it is
 * never public, never unencrypted, recoverable for a while after a delete, and not paid for forever.
 *
 * Artifact layout under `s3://<bucket>/<prefix>/` (MLflow 3 with `--artifacts-destination`):
 *   <experiment id>/<run id>/artifacts/...          run artifacts (mlflow.log_artifact, classic models)
 *   <experiment id>/models/<model id>/artifacts/... logged models (MLflow 3 LoggedModel; registry versions point here)
 *   <experiment id>/traces/<trace id>/artifacts/... trace data
 */
import { Construct } from "constructs";
import { Token } from "cdktf";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import {
  S3BucketLifecycleConfiguration,
  type S3BucketLifecycleConfigurationRule,
} from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketLoggingA } from "@cdktf/provider-aws/lib/s3-bucket-logging";
import { S3BucketReplicationConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-replication-configuration";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import type { S3ArtifactStoreContract } from "../core/contracts";
import { partitionOf } from "../core/aws";
import { bucketNameProblem } from "../core/aws-limits";
import { stackKeyPolicy } from "../core/kms-key-policy";
import { isS3KeyPrefix } from "../core/s3-prefix";
import { PropError } from "../core/prop-error";

/** Lifecycle rules of the artifact bucket. Every value is in days. */
export interface ArtifactLifecycleProps {
  /**
   * Days after creation at which artifacts under the prefix move to STANDARD_IA (S3 minimum: 30).
   * @default 30
   */
  readonly transitionToInfrequentAccessDays?: number;
  /**
   * Days after creation at which artifacts under the prefix move to GLACIER_IR (millisecond reads,
   * 90-day minimum storage charge). At least 30 days after the STANDARD_IA transition.
   * @default - no Glacier Instant Retrieval transition
   */
  readonly transitionToGlacierIrDays?: number;
  /**
   * Days after creation at which current artifacts under the prefix expire (become noncurrent, then
   * follow the noncurrent rules). Must be later than the last transition.
   * @default - never: MLflow's `mlflow gc` deletes the artifacts of deleted runs
   */
  readonly expireDays?: number;
  /**
   * How many noncurrent versions of each object are kept beyond `noncurrentExpireDays` (0-100).
   * @default 3
   */
  readonly noncurrentVersionsToKeep?: number;
  /**
   * Days after becoming noncurrent at which noncurrent versions beyond the kept count are deleted.
   * @default 30
   */
  readonly noncurrentExpireDays?: number;
  /**
   * Days after becoming noncurrent at which every noncurrent version, the kept ones included, is
   * deleted. Must be more than `noncurrentExpireDays`.
   * @default 365
   */
  readonly noncurrentMaxDays?: number;
  /**
   * Days after initiation at which incomplete multipart uploads are aborted (their parts are billed).
   * @default 3
   */
  readonly abortIncompleteMultipartUploadDays?: number;
}

/** The lifecycle rule for artifacts tagged for archival (see {@link ArtifactStoreProps.archive}). */
export interface ArtifactArchiveProps {
  /** The object tag the rule filters on. Required. */
  readonly tag: { readonly key: string; readonly value: string };
  /** Days after an object's creation at which a tagged object moves to `storageClass`. Required. */
  readonly transitionDays: number;
  /** The colder storage class. @default "GLACIER_IR" */
  readonly storageClass?: "STANDARD_IA" | "GLACIER_IR" | "GLACIER" | "DEEP_ARCHIVE";
  /** Days after an object's creation at which a tagged object expires. @default - never */
  readonly expireDays?: number;
}

/** Props of {@link ArtifactStore}. */
export interface ArtifactStoreProps {
  /** Globally unique bucket name (3-63 lower-case letters, digits, '.', '-'). Required. */
  readonly bucketName: string;
  /**
   * Key prefix MLflow writes under; the lifecycle's storage-class and expiry rules apply to it.
   * @default "mlartifacts"
   */
  readonly prefix?: string;
  /**
   * Let `terraform destroy` delete the bucket while it still holds objects. Only for throw-away
   * environments; refused together with `preventDestroy`.
   * @default false
   */
  readonly forceDestroy?: boolean;
  /**
   * Add Terraform's `prevent_destroy` to the bucket and its KMS key, so no plan can delete them.
   * @default true
   */
  readonly preventDestroy?: boolean;
  /** Lifecycle rules. @default - the defaults of each {@link ArtifactLifecycleProps} field */
  readonly lifecycle?: ArtifactLifecycleProps;
  /**
   * Archival of objects carrying an object tag (the model-retention job tags the artifacts of model
   * versions nobody needs hot): a lifecycle rule filtered on the prefix AND the tag moves them to a
   * colder storage class, and deletes them only when `expireDays` is set. S3 counts the days from
   * each object's creation, not from when it was tagged.
   * @default - no archival rule
   */
  readonly archive?: ArtifactArchiveProps;
  /**
   * Expiry of other prefixes of the bucket (the model servers' inference logs): objects under
   * `prefix/` expire after `days` (then the noncurrent-version rules delete them). A prefix must not be
   * MLflow's artifact prefix or under it.
   * @default []
   */
  readonly expiringPrefixes?: readonly { readonly id: string; readonly prefix: string; readonly days: number }[];
  /**
   * Write S3 server access logs to a separate bucket `<bucketName>-logs` (SSE-S3, private, TLS-only,
   * logs expire after `accessLogRetentionDays`).
   * @default false
   */
  readonly accessLogging?: boolean;
  /**
   * Days server access logs are kept.
   * @default 90
   */
  readonly accessLogRetentionDays?: number;
  /**
   * Replicate every object to a bucket `<bucketName>-replica` in this region (its own KMS key,
   * same protections), for disaster recovery.
   * @default - no replication
   */
  readonly replicationRegion?: string;
  /** The region of the bucket (the replica must be elsewhere). Required when `replicationRegion` is set. @default - the provider's region */
  readonly region?: string;
  /**
   * The AWS account id that owns the bucket: S3 log delivery and replication are only trusted for
   * requests from it. Required when `accessLogging` or `replicationRegion` is set.
   * @default - none
   */
  readonly accountId?: string;
  /**
   * IAM roles that administer the bucket's keys through their key policies (the CI deploy role): what they
   * may do to the keys is in the keys' own policies, not in an IAM statement scoped by tags
   * (constructs/core/kms-key-policy.ts). Roles of the key's account.
   * @default [] (KMS's default key policy: IAM policies of the account decide)
   */
  readonly keyAdministratorArns?: readonly string[];
  /**
   * Days after which KMS deletes a key scheduled for deletion (7-30).
   * @default 30
   */
  readonly kmsDeletionWindowDays?: number;
}

/** The policy document format IAM and S3 accept; tokens inside strings are resolved by cdktf. */
interface Statement {
  Sid: string;
  Effect: "Allow" | "Deny";
  Principal?: unknown;
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}
const policyJson = (statements: Statement[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });

/** Denies every request that does not use TLS 1.2 or later. */
function tlsOnlyStatements(bucketArn: string): Statement[] {
  return [
    {
      Sid: "DenyInsecureTransport",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: [bucketArn, `${bucketArn}/*`],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    },
    {
      Sid: "DenyOutdatedTls",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: [bucketArn, `${bucketArn}/*`],
      Condition: { NumericLessThan: { "s3:TlsVersion": "1.2" } },
    },
  ];
}

function checkDays(scope: Construct, field: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PropError(scope, `lifecycle.${field}`, value, `a whole number of days from ${min} to ${max}`);
  }
}

/** The props with their defaults applied: what the sections of the constructor read. */
function settingsOf(props: ArtifactStoreProps) {
  const lc = props.lifecycle ?? {};
  const preventDestroy = props.preventDestroy ?? true;
  return {
    prefix: props.prefix ?? "mlartifacts",
    forceDestroy: props.forceDestroy ?? false,
    preventDestroy,
    toIa: lc.transitionToInfrequentAccessDays ?? 30,
    toGlacier: lc.transitionToGlacierIrDays,
    expire: lc.expireDays,
    keep: lc.noncurrentVersionsToKeep ?? 3,
    noncurrentDays: lc.noncurrentExpireDays ?? 30,
    noncurrentMax: lc.noncurrentMaxDays ?? 365,
    abortDays: lc.abortIncompleteMultipartUploadDays ?? 3,
    kmsWindow: props.kmsDeletionWindowDays ?? 30,
    logRetention: props.accessLogRetentionDays ?? 90,
    /** Terraform's lifecycle of every bucket and key. */
    lifecycle: preventDestroy ? { preventDestroy: true } : undefined,
  };
}
type Settings = ReturnType<typeof settingsOf>;

/**
 * An encrypted, private, versioned S3 bucket for MLflow artifacts.
 *
 * Creates: a customer-managed KMS key (rotation on) and alias; the bucket with all four public-access
 * blocks, `BucketOwnerEnforced` ownership (ACLs off), versioning, SSE-KMS default encryption with
 * bucket keys; a bucket policy that denies non-TLS (and TLS < 1.2) requests and uploads that ask for
 * any encryption other than this bucket's KMS key; lifecycle rules; optionally an access-log bucket
 * and a cross-region replica.
 */
export class ArtifactStore extends Construct {
  /** What the tracking server needs. */
  readonly contract: S3ArtifactStoreContract;
  /** The key prefix MLflow writes under. */
  readonly prefix: string;
  readonly bucket: S3Bucket;
  readonly kmsKey: KmsKey;
  /** The access-log bucket, when `accessLogging` is on. */
  readonly logBucket?: S3Bucket;
  /** The replica bucket, when `replicationRegion` is set. */
  readonly replicaBucket?: S3Bucket;

  constructor(scope: Construct, id: string, props: ArtifactStoreProps) {
    super(scope, id);
    const s = settingsOf(props);
    // Every problem is reported before any cloud call.
    this.validate(props, s);
    this.prefix = s.prefix;
    const partition = partitionOf(props.region);

    this.kmsKey = this.createKey(props, s);
    this.bucket = new S3Bucket(this, "bucket", { bucket: props.bucketName, forceDestroy: s.forceDestroy, lifecycle: s.lifecycle });
    const publicAccess = this.protect(this.bucket, "bucket", { kmsKeyArn: this.kmsKey.arn });
    const versioning = new S3BucketVersioningA(this, "versioning", {
      bucket: this.bucket.id,
      versioningConfiguration: { status: "Enabled" },
    });
    this.createBucketPolicy(publicAccess);

    const rules = this.lifecycleRules(props, s);
    new S3BucketLifecycleConfiguration(this, "lifecycle", {
      bucket: this.bucket.id,
      // S3's default since 2024 as well, stated so that the plan shows it: objects under 128 KiB
      // (params, small metrics files) are not transitioned, as IA would bill them as 128 KiB each.
      transitionDefaultMinimumObjectSize: "all_storage_classes_128K",
      rule: rules,
      dependsOn: [versioning],
    });

    if (props.accessLogging) this.logBucket = this.createAccessLogging(props, s);
    if (props.replicationRegion !== undefined)
      this.replicaBucket = this.createReplication(props, s, props.replicationRegion, rules, versioning);

    this.contract = {
      bucketName: props.bucketName,
      bucketArn: `arn:${partition}:s3:::${props.bucketName}`,
      destinationUri: `s3://${props.bucketName}/${s.prefix}`,
      kmsKeyArn: this.kmsKey.arn,
    };
  }

  /** Fails (naming the field) on the first invalid prop. */
  private validate(props: ArtifactStoreProps, s: Settings): void {
    const {
      prefix,
      forceDestroy,
      preventDestroy,
      toIa,
      toGlacier,
      expire,
      keep,
      noncurrentDays,
      noncurrentMax,
      abortDays,
      kmsWindow,
      logRetention,
    } = s;
    if (!Token.isUnresolved(props.bucketName)) {
      const problem = bucketNameProblem(props.bucketName);
      if (problem) throw new PropError(this, "bucketName", props.bucketName, `${problem.replace(/^an S3 bucket name: /, "")};`);
      const longest = props.bucketName.length + (props.replicationRegion ? "-replica".length : props.accessLogging ? "-logs".length : 0);
      if (longest > 63) {
        throw new PropError(
          this,
          "bucketName",
          props.bucketName,
          `a name short enough for its derived log/replica bucket names (${longest} > 63 characters): shorten it`,
        );
      }
    }
    if (!isS3KeyPrefix(prefix))
      throw new PropError(this, "prefix", prefix, `an S3 key prefix without leading or trailing '/', such as "mlartifacts";`);
    if (forceDestroy && preventDestroy) {
      throw new PropError(
        this,
        "forceDestroy",
        props.forceDestroy,
        "false while preventDestroy is true: set preventDestroy to false for a throw-away environment, or forceDestroy to false",
      );
    }
    checkDays(this, "transitionToInfrequentAccessDays", toIa, 30, 36500);
    checkDays(this, "transitionToGlacierIrDays", toGlacier, 60, 36500);
    checkDays(this, "expireDays", expire, 1, 36500);
    checkDays(this, "noncurrentVersionsToKeep", keep, 0, 100);
    checkDays(this, "noncurrentExpireDays", noncurrentDays, 1, 36500);
    checkDays(this, "noncurrentMaxDays", noncurrentMax, 1, 36500);
    checkDays(this, "abortIncompleteMultipartUploadDays", abortDays, 1, 365);
    if (props.archive) {
      const arch = props.archive;
      if (!arch.tag.key || !/^[\w .:+=@/-]{1,128}$/.test(arch.tag.key))
        throw new PropError(this, "archive.tag.key", arch.tag.key, `an S3 tag key (1-128 letters, digits, spaces and _.:/=+-@)`);
      if (!Number.isInteger(arch.transitionDays) || arch.transitionDays < 1 || arch.transitionDays > 36500)
        throw new PropError(this, "archive.transitionDays", arch.transitionDays, `a whole number of days from 1 to 36500`);
      if (arch.expireDays !== undefined && !(Number.isInteger(arch.expireDays) && arch.expireDays > arch.transitionDays)) {
        throw new PropError(
          this,
          "archive.expireDays",
          arch.expireDays,
          `a whole number of days later than archive.transitionDays (> ${arch.transitionDays})`,
        );
      }
    }
    if (toGlacier !== undefined && toGlacier < toIa + 30) {
      throw new PropError(
        this,
        "lifecycle.transitionToGlacierIrDays",
        toGlacier,
        `at least 30 days after transitionToInfrequentAccessDays (>= ${toIa + 30})`,
      );
    }
    if (expire !== undefined && expire <= (toGlacier ?? toIa)) {
      throw new PropError(this, "lifecycle.expireDays", expire, `later than the last storage-class transition (> ${toGlacier ?? toIa})`);
    }
    if (noncurrentMax <= noncurrentDays) {
      throw new PropError(this, "lifecycle.noncurrentMaxDays", noncurrentMax, `more than noncurrentExpireDays (> ${noncurrentDays})`);
    }
    if (!Number.isInteger(logRetention) || logRetention < 1 || logRetention > 36500) {
      throw new PropError(this, "accessLogRetentionDays", logRetention, `a whole number of days from 1 to 36500`);
    }
    if (!Number.isInteger(kmsWindow) || kmsWindow < 7 || kmsWindow > 30) {
      throw new PropError(this, "kmsDeletionWindowDays", kmsWindow, `a whole number from 7 to 30 (a KMS limit)`);
    }
    if ((props.accessLogging || props.replicationRegion !== undefined) && props.accountId === undefined) {
      throw new PropError(
        this,
        "accountId",
        props.accountId,
        "the account id when accessLogging or replicationRegion is set (it scopes the service principals' access to this account)",
      );
    }
    if (props.replicationRegion !== undefined) {
      if (props.region === undefined)
        throw new PropError(
          this,
          "region",
          props.region,
          "the bucket's region when replicationRegion is set (the replica must be in another region)",
        );
      if (props.replicationRegion === props.region) {
        throw new PropError(this, "replicationRegion", props.replicationRegion, `a region other than the bucket's own (${props.region})`);
      }
    }
  }

  /** The bucket's customer-managed key and its alias. */
  private createKey(props: ArtifactStoreProps, s: Settings): KmsKey {
    const { kmsWindow, lifecycle } = s;
    const key = new KmsKey(this, "key", {
      description: `Encrypts MLflow artifacts in s3://${props.bucketName}`,
      enableKeyRotation: true,
      deletionWindowInDays: kmsWindow,
      lifecycle,
      policy: stackKeyPolicy({ administratorArns: props.keyAdministratorArns, scope: this }),
    });
    new KmsAlias(this, "key_alias", { name: `alias/${props.bucketName}`, targetKeyId: key.keyId });
    return key;
  }

  /** TLS only, and no other encryption than the bucket's key on uploads. */
  private createBucketPolicy(publicAccess: S3BucketPublicAccessBlock): void {
    // Uploads without an encryption header get the bucket default (this key). Requests that ask for
    // something else (SSE-S3, another KMS key, customer-provided keys) are refused.
    const bucketArn = this.bucket.arn;
    new S3BucketPolicy(this, "policy", {
      bucket: this.bucket.id,
      policy: policyJson([
        ...tlsOnlyStatements(bucketArn),
        {
          Sid: "DenyOtherEncryption",
          Effect: "Deny",
          Principal: "*",
          Action: "s3:PutObject",
          Resource: `${bucketArn}/*`,
          Condition: {
            StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
            Null: { "s3:x-amz-server-side-encryption": "false" },
          },
        },
        {
          Sid: "DenyOtherKmsKey",
          Effect: "Deny",
          Principal: "*",
          Action: "s3:PutObject",
          Resource: `${bucketArn}/*`,
          Condition: {
            StringNotEquals: { "s3:x-amz-server-side-encryption-aws-kms-key-id": this.kmsKey.arn },
            Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "false" },
          },
        },
        {
          Sid: "DenyCustomerProvidedKeys",
          Effect: "Deny",
          Principal: "*",
          Action: "s3:PutObject",
          Resource: `${bucketArn}/*`,
          Condition: { Null: { "s3:x-amz-server-side-encryption-customer-algorithm": "false" } },
        },
      ]),
      dependsOn: [publicAccess],
    });
  }

  /**
   * The artifact bucket's lifecycle rules (the replica's too, but the storage-class one): storage classes
   * and archival under the prefix, noncurrent versions, incomplete uploads, delete markers, and the expiry
   * of the other prefixes.
   */
  private lifecycleRules(props: ArtifactStoreProps, s: Settings): S3BucketLifecycleConfigurationRule[] {
    const { prefix, toIa, toGlacier, expire, keep, noncurrentDays, noncurrentMax, abortDays } = s;
    const rules: S3BucketLifecycleConfigurationRule[] = [
      {
        id: "artifacts-storage-class",
        status: "Enabled",
        filter: [{ prefix: `${prefix}/` }],
        transition: [
          { days: toIa, storageClass: "STANDARD_IA" },
          ...(toGlacier !== undefined ? [{ days: toGlacier, storageClass: "GLACIER_IR" }] : []),
        ],
        ...(expire !== undefined ? { expiration: [{ days: expire }] } : {}),
      },
      ...(props.archive
        ? [
            {
              id: "model-retention-archive",
              status: "Enabled",
              filter: [{ and: [{ prefix: `${prefix}/`, tags: { [props.archive.tag.key]: props.archive.tag.value } }] }],
              transition: [{ days: props.archive.transitionDays, storageClass: props.archive.storageClass ?? "GLACIER_IR" }],
              ...(props.archive.expireDays !== undefined ? { expiration: [{ days: props.archive.expireDays }] } : {}),
            },
          ]
        : []),
      {
        id: "noncurrent-versions",
        status: "Enabled",
        filter: [{ prefix: "" }],
        noncurrentVersionExpiration: [
          keep > 0 ? { noncurrentDays: noncurrentDays, newerNoncurrentVersions: keep } : { noncurrentDays: noncurrentDays },
        ],
      },
      ...(keep > 0
        ? [
            {
              id: "noncurrent-versions-cap",
              status: "Enabled",
              filter: [{ prefix: "" }],
              noncurrentVersionExpiration: [{ noncurrentDays: noncurrentMax }],
            },
          ]
        : []),
      {
        id: "abort-incomplete-multipart-uploads",
        status: "Enabled",
        filter: [{ prefix: "" }],
        abortIncompleteMultipartUpload: [{ daysAfterInitiation: abortDays }],
      },
      {
        id: "expired-delete-markers",
        status: "Enabled",
        filter: [{ prefix: "" }],
        expiration: [{ expiredObjectDeleteMarker: true }],
      },
    ];
    for (const e of props.expiringPrefixes ?? []) {
      checkDays(this, `expiringPrefixes[${e.id}].days`, e.days, 1, 36500);
      if (e.prefix === prefix || e.prefix.startsWith(`${prefix}/`) || prefix.startsWith(`${e.prefix}/`)) {
        throw new PropError(
          this,
          "expiringPrefixes",
          e.prefix,
          `prefixes that do not overlap MLflow's artifact prefix "${prefix}": give it a prefix of its own`,
        );
      }
      rules.push({ id: e.id, status: "Enabled", filter: [{ prefix: `${e.prefix}/` }], expiration: [{ days: e.days }] });
    }
    return rules;
  }

  /** The access-log bucket (SSE-S3, written by S3's log delivery only) and the artifact bucket's logging to it. */
  private createAccessLogging(props: ArtifactStoreProps, s: Settings): S3Bucket {
    const { forceDestroy, lifecycle, logRetention } = s;
    const bucketArn = this.bucket.arn;
    const logBucket = new S3Bucket(this, "log_bucket", { bucket: `${props.bucketName}-logs`, forceDestroy, lifecycle });
    // S3 server access logging delivers to SSE-S3 targets without any key policy work.
    const logPublicAccess = this.protect(logBucket, "log_bucket", {});
    new S3BucketPolicy(this, "log_bucket_policy", {
      bucket: logBucket.id,
      policy: policyJson([
        ...tlsOnlyStatements(logBucket.arn),
        {
          Sid: "AllowServerAccessLogDelivery",
          Effect: "Allow",
          Principal: { Service: "logging.s3.amazonaws.com" },
          Action: "s3:PutObject",
          Resource: `${logBucket.arn}/access-logs/*`,
          Condition: {
            ArnLike: { "aws:SourceArn": bucketArn },
            StringEquals: { "aws:SourceAccount": props.accountId },
          },
        },
      ]),
      dependsOn: [logPublicAccess],
    });
    new S3BucketLifecycleConfiguration(this, "log_bucket_lifecycle", {
      bucket: logBucket.id,
      rule: [
        { id: "expire-access-logs", status: "Enabled", filter: [{ prefix: "" }], expiration: [{ days: logRetention }] },
        {
          id: "abort-incomplete-multipart-uploads",
          status: "Enabled",
          filter: [{ prefix: "" }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 1 }],
        },
      ],
    });
    new S3BucketLoggingA(this, "logging", {
      bucket: this.bucket.id,
      targetBucket: logBucket.id,
      targetPrefix: "access-logs/",
    });
    return logBucket;
  }

  /**
   * Replication to `region`: the replica's key and bucket (protected like the source), its lifecycle, and
   * the role S3 replicates as.
   */
  private createReplication(
    props: ArtifactStoreProps,
    s: Settings,
    region: string,
    rules: S3BucketLifecycleConfigurationRule[],
    versioning: S3BucketVersioningA,
  ): S3Bucket {
    const { forceDestroy, kmsWindow, lifecycle } = s;
    const bucketArn = this.bucket.arn;
    const replicaKey = new KmsKey(this, "replica_key", {
      region,
      description: `Encrypts the replica of MLflow artifacts s3://${props.bucketName}`,
      enableKeyRotation: true,
      deletionWindowInDays: kmsWindow,
      lifecycle,
      policy: stackKeyPolicy({ administratorArns: props.keyAdministratorArns, scope: this }),
    });
    const replica = new S3Bucket(this, "replica_bucket", { region, bucket: `${props.bucketName}-replica`, forceDestroy, lifecycle });
    const replicaPublicAccess = this.protect(replica, "replica_bucket", { kmsKeyArn: replicaKey.arn, region });
    const replicaVersioning = new S3BucketVersioningA(this, "replica_versioning", {
      region,
      bucket: replica.id,
      versioningConfiguration: { status: "Enabled" },
    });
    new S3BucketPolicy(this, "replica_policy", {
      region,
      bucket: replica.id,
      policy: policyJson(tlsOnlyStatements(replica.arn)),
      dependsOn: [replicaPublicAccess],
    });
    new S3BucketLifecycleConfiguration(this, "replica_lifecycle", {
      region,
      bucket: replica.id,
      rule: rules.filter((r) => r.id !== "artifacts-storage-class"),
      dependsOn: [replicaVersioning],
    });

    const role = new IamRole(this, "replication_role", {
      name: `${props.bucketName}-replication`.slice(0, 64),
      description: `S3 replication of ${props.bucketName} to ${region}`,
      assumeRolePolicy: policyJson([
        {
          Sid: "S3Replication",
          Effect: "Allow",
          Principal: { Service: "s3.amazonaws.com" },
          Action: "sts:AssumeRole",
          Condition: { StringEquals: { "aws:SourceAccount": props.accountId } },
        },
      ]),
    });
    new IamRolePolicy(this, "replication_policy", {
      role: role.id,
      name: "replicate-artifacts",
      policy: policyJson([
        {
          Sid: "ReadSourceConfiguration",
          Effect: "Allow",
          Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"],
          Resource: bucketArn,
        },
        {
          Sid: "ReadSourceVersions",
          Effect: "Allow",
          Action: ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
          Resource: `${bucketArn}/*`,
        },
        {
          Sid: "WriteReplica",
          Effect: "Allow",
          Action: ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
          Resource: `${replica.arn}/*`,
        },
        {
          Sid: "DecryptSource",
          Effect: "Allow",
          Action: "kms:Decrypt",
          Resource: this.kmsKey.arn,
          Condition: { StringEquals: { "kms:ViaService": `s3.${props.region}.amazonaws.com` } },
        },
        {
          Sid: "EncryptReplica",
          Effect: "Allow",
          Action: ["kms:Encrypt", "kms:GenerateDataKey"],
          Resource: replicaKey.arn,
          Condition: { StringEquals: { "kms:ViaService": `s3.${region}.amazonaws.com` } },
        },
      ]),
    });
    new S3BucketReplicationConfigurationA(this, "replication", {
      bucket: this.bucket.id,
      role: role.arn,
      rule: [
        {
          id: "replicate-everything",
          status: "Enabled",
          priority: 1,
          filter: { prefix: "" },
          deleteMarkerReplication: { status: "Enabled" },
          sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } },
          destination: {
            bucket: replica.arn,
            storageClass: "STANDARD_IA",
            encryptionConfiguration: { replicaKmsKeyId: replicaKey.arn },
          },
        },
      ],
      dependsOn: [versioning, replicaVersioning],
    });
    return replica;
  }

  /** Public-access block, owner-enforced ownership and default encryption for one bucket. */
  private protect(bucket: S3Bucket, name: string, opts: { kmsKeyArn?: string; region?: string }): S3BucketPublicAccessBlock {
    const block = new S3BucketPublicAccessBlock(this, `${name}_public_access`, {
      region: opts.region,
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, `${name}_ownership`, {
      region: opts.region,
      bucket: bucket.id,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
    new S3BucketServerSideEncryptionConfigurationA(this, `${name}_encryption`, {
      region: opts.region,
      bucket: bucket.id,
      rule: [
        opts.kmsKeyArn
          ? { applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: opts.kmsKeyArn }, bucketKeyEnabled: true }
          : { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
      ],
    });
    return block;
  }
}
