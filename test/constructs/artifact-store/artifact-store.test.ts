import { Testing, TerraformOutput, TerraformStack } from "cdktf";
import { ArtifactStore, type ArtifactStoreProps } from "../../../constructs/artifact-store";
import { ConfigError } from "../../../config/load";
import { configured, envConfig, resourcesOf, synthJson, SHIPPED, type TfJson } from "../../helpers/synth";

const policyOf = (r: Record<string, any>) => JSON.parse(r.policy) as { Statement: Record<string, any>[] };
const statement = (r: Record<string, any>, sid: string) => policyOf(r).Statement.find((s) => s.Sid === sid)!;
const rulesById = (json: TfJson, name = "artifact_store_lifecycle") => {
  const [, lc] = Object.entries(resourcesOf(json, "aws_s3_bucket_lifecycle_configuration")).find(([k]) => k.startsWith(name + "_"))!;
  return Object.fromEntries((lc.rule as Record<string, any>[]).map((r) => [r.id, r]));
};
const byPrefix = (json: TfJson, type: string, prefix: string) => {
  const found = Object.entries(resourcesOf(json, type)).filter(([k]) => k.startsWith(prefix + "_"));
  if (found.length !== 1) throw new Error(`expected one ${type} named ${prefix}_*, found ${found.length}`);
  return found[0][1];
};

/** Synthesizes one ArtifactStore in an empty stack. */
function synthStore(props: Partial<ArtifactStoreProps> = {}): TfJson {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  new ArtifactStore(stack, "store", { bucketName: "my-artifacts", preventDestroy: false, ...props });
  return JSON.parse(Testing.synth(stack)) as TfJson;
}
const build = (props: Partial<ArtifactStoreProps>) => () => synthStore(props);

describe.each(SHIPPED)("artifact store in %s", (env) => {
  const config = configured(env);
  const json = synthJson(config);
  const bucket = byPrefix(json, "aws_s3_bucket", "artifact_store_bucket");

  it("names the bucket <project>-<env>-artifacts-<account>", () => {
    expect(bucket.bucket).toBe(`mlflow-${env}-artifacts-${config.aws.accountId}`);
  });

  it("allows force_destroy only where the environment says so, and prevent_destroy in production", () => {
    expect(bucket.force_destroy).toBe(config.artifacts.forceDestroy);
    expect(bucket.lifecycle?.prevent_destroy).toBe(config.production ? true : undefined);
    expect(byPrefix(json, "aws_kms_key", "artifact_store_key").lifecycle?.prevent_destroy).toBe(config.production ? true : undefined);
  });

  it("blocks every kind of public access and disables ACLs", () => {
    expect(byPrefix(json, "aws_s3_bucket_public_access_block", "artifact_store_bucket_public_access")).toMatchObject({
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(byPrefix(json, "aws_s3_bucket_ownership_controls", "artifact_store_bucket_ownership").rule).toEqual({
      object_ownership: "BucketOwnerEnforced",
    });
    expect(resourcesOf(json, "aws_s3_bucket_acl")).toEqual({});
  });

  it("versions the bucket and encrypts it with its own rotating KMS key and bucket keys", () => {
    expect(byPrefix(json, "aws_s3_bucket_versioning", "artifact_store_versioning").versioning_configuration).toEqual({ status: "Enabled" });
    const key = byPrefix(json, "aws_kms_key", "artifact_store_key");
    expect(key.enable_key_rotation).toBe(true);
    expect(key.deletion_window_in_days).toBe(30);
    const [rule] = byPrefix(json, "aws_s3_bucket_server_side_encryption_configuration", "artifact_store_bucket_encryption").rule;
    expect(rule.bucket_key_enabled).toBe(true);
    expect(rule.apply_server_side_encryption_by_default).toEqual({
      sse_algorithm: "aws:kms",
      kms_master_key_id: expect.stringMatching(/^\$\{aws_kms_key\.artifact_store_key_[0-9A-F]+\.arn\}$/),
    });
  });

  it("has a bucket policy that denies non-TLS, old TLS, other encryption and customer keys", () => {
    const policy = byPrefix(json, "aws_s3_bucket_policy", "artifact_store_policy");
    const arn = `\${aws_s3_bucket.${Object.keys(resourcesOf(json, "aws_s3_bucket"))[0]}.arn}`;
    expect(statement(policy, "DenyInsecureTransport")).toEqual({
      Sid: "DenyInsecureTransport",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: [arn, `${arn}/*`],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
    expect(statement(policy, "DenyOutdatedTls").Condition).toEqual({ NumericLessThan: { "s3:TlsVersion": "1.2" } });
    expect(statement(policy, "DenyOtherEncryption")).toMatchObject({
      Effect: "Deny",
      Action: "s3:PutObject",
      Condition: {
        StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
        Null: { "s3:x-amz-server-side-encryption": "false" },
      },
    });
    expect(statement(policy, "DenyOtherKmsKey").Condition.StringNotEquals["s3:x-amz-server-side-encryption-aws-kms-key-id"]).toMatch(
      /aws_kms_key\.artifact_store_key/,
    );
    expect(statement(policy, "DenyCustomerProvidedKeys").Condition).toEqual({
      Null: { "s3:x-amz-server-side-encryption-customer-algorithm": "false" },
    });
    expect(policyOf(policy).Statement.every((s) => s.Effect === "Deny")).toBe(true);
    expect(policy.depends_on).toEqual([expect.stringMatching(/^aws_s3_bucket_public_access_block\./)]);
  });

  it("moves artifacts under the prefix to STANDARD_IA then GLACIER_IR as configured, and expires them only where configured", () => {
    const a = config.artifacts;
    const rules = rulesById(json);
    expect(rules["artifacts-storage-class"]).toEqual({
      id: "artifacts-storage-class",
      status: "Enabled",
      filter: [{ prefix: `${a.prefix}/` }],
      transition: [
        { days: a.transitionToInfrequentAccessDays, storage_class: "STANDARD_IA" },
        ...(a.transitionToGlacierIrDays ? [{ days: a.transitionToGlacierIrDays, storage_class: "GLACIER_IR" }] : []),
      ],
      ...(a.expireDays ? { expiration: [{ days: a.expireDays }] } : {}),
    });
  });

  it("keeps the configured newest noncurrent versions, expires the others after noncurrentExpireDays, and all after noncurrentMaxDays", () => {
    const a = config.artifacts;
    const rules = rulesById(json);
    expect(rules["noncurrent-versions"].noncurrent_version_expiration).toEqual([
      {
        noncurrent_days: a.noncurrentExpireDays,
        ...(a.noncurrentVersionsToKeep > 0 ? { newer_noncurrent_versions: a.noncurrentVersionsToKeep } : {}),
      },
    ]);
    if (a.noncurrentVersionsToKeep > 0)
      expect(rules["noncurrent-versions-cap"].noncurrent_version_expiration).toEqual([{ noncurrent_days: a.noncurrentMaxDays }]);
    expect(rules["noncurrent-versions"].filter).toEqual([{ prefix: "" }]);
  });

  it("aborts incomplete multipart uploads after the configured days and removes expired delete markers", () => {
    const rules = rulesById(json);
    expect(rules["abort-incomplete-multipart-uploads"].abort_incomplete_multipart_upload).toEqual([
      { days_after_initiation: config.artifacts.abortIncompleteMultipartUploadDays },
    ]);
    expect(rules["expired-delete-markers"].expiration).toEqual([{ expired_object_delete_marker: true }]);
    const lc = byPrefix(json, "aws_s3_bucket_lifecycle_configuration", "artifact_store_lifecycle");
    expect(lc.transition_default_minimum_object_size).toBe("all_storage_classes_128K");
    expect(lc.depends_on).toEqual([expect.stringMatching(/^aws_s3_bucket_versioning\./)]);
  });

  it("has access logging and replication exactly where configured", () => {
    expect(Object.keys(resourcesOf(json, "aws_s3_bucket_logging"))).toHaveLength(config.artifacts.accessLogging ? 1 : 0);
    expect(Object.keys(resourcesOf(json, "aws_s3_bucket_replication_configuration"))).toHaveLength(
      config.artifacts.replicationRegion ? 1 : 0,
    );
  });
});

describe("artifact store options (through the environment configuration)", () => {
  it("expires current artifacts when expireDays is set", () => {
    const json = synthJson(envConfig("staging", { artifacts: { expireDays: 400 } }));
    expect(rulesById(json)["artifacts-storage-class"].expiration).toEqual([{ days: 400 }]);
  });

  it("expires every noncurrent version after noncurrentExpireDays when noncurrentVersionsToKeep is 0 (no cap rule needed)", () => {
    const json = synthJson(envConfig("staging", { artifacts: { noncurrentVersionsToKeep: 0, noncurrentExpireDays: 14 } }));
    const rules = rulesById(json);
    expect(rules["noncurrent-versions"].noncurrent_version_expiration).toEqual([{ noncurrent_days: 14 }]);
    expect(rules["noncurrent-versions-cap"]).toBeUndefined();
  });

  it("uses a configured bucket name and prefix, in the rules and the contract", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "t");
    const store = new ArtifactStore(stack, "s", { bucketName: "team-ml-artifacts", prefix: "mlflow/artifacts", preventDestroy: false });
    expect(store.contract).toEqual({
      bucketName: "team-ml-artifacts",
      bucketArn: "arn:aws:s3:::team-ml-artifacts",
      destinationUri: "s3://team-ml-artifacts/mlflow/artifacts",
      kmsKeyArn: expect.any(String),
    });
    new TerraformOutput(stack, "key", { value: store.contract.kmsKeyArn });
    const json = JSON.parse(Testing.synth(stack)) as TfJson;
    expect(json.output?.key.value).toMatch(/^\$\{aws_kms_key\.s_key_[0-9A-F]+\.arn\}$/);
    expect(byPrefix(json, "aws_s3_bucket", "s_bucket").bucket).toBe("team-ml-artifacts");
    expect(rulesById(json, "s_lifecycle")["artifacts-storage-class"].filter).toEqual([{ prefix: "mlflow/artifacts/" }]);
  });

  it("uses the partition of GovCloud regions in the bucket ARN", () => {
    const app = Testing.app();
    const store = new ArtifactStore(new TerraformStack(app, "t"), "s", {
      bucketName: "gov-artifacts",
      region: "us-gov-west-1",
      preventDestroy: false,
    });
    expect(store.contract.bucketArn).toBe("arn:aws-us-gov:s3:::gov-artifacts");
  });

  it("writes access logs to a private, TLS-only, SSE-S3 log bucket that only S3 log delivery for this bucket may write", () => {
    const json = synthJson(envConfig("staging", { artifacts: { accessLogging: true } }));
    const logBucket = byPrefix(json, "aws_s3_bucket", "artifact_store_log_bucket");
    expect(logBucket.bucket).toBe("mlflow-staging-artifacts-222222222222-logs");
    expect(byPrefix(json, "aws_s3_bucket_server_side_encryption_configuration", "artifact_store_log_bucket_encryption").rule).toEqual([
      { apply_server_side_encryption_by_default: { sse_algorithm: "AES256" } },
    ]);
    expect(byPrefix(json, "aws_s3_bucket_public_access_block", "artifact_store_log_bucket_public_access")).toMatchObject({
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    const policy = byPrefix(json, "aws_s3_bucket_policy", "artifact_store_log_bucket_policy");
    expect(statement(policy, "AllowServerAccessLogDelivery")).toMatchObject({
      Principal: { Service: "logging.s3.amazonaws.com" },
      Action: "s3:PutObject",
      Condition: {
        StringEquals: { "aws:SourceAccount": "222222222222" },
        ArnLike: { "aws:SourceArn": expect.stringMatching(/aws_s3_bucket\.artifact_store_bucket_/) },
      },
    });
    expect(statement(policy, "DenyInsecureTransport").Effect).toBe("Deny");
    expect(byPrefix(json, "aws_s3_bucket_logging", "artifact_store_logging")).toMatchObject({
      target_prefix: "access-logs/",
      target_bucket: expect.stringMatching(/artifact_store_log_bucket_/),
    });
    expect(rulesById(json, "artifact_store_log_bucket_lifecycle")["expire-access-logs"].expiration).toEqual([{ days: 90 }]);
  });

  it("replicates to an encrypted, versioned bucket in another region with a role scoped to both buckets and keys", () => {
    const json = synthJson(envConfig("prod", { artifacts: { replicationRegion: "eu-central-1" } }));
    const replica = byPrefix(json, "aws_s3_bucket", "artifact_store_replica_bucket");
    expect(replica).toMatchObject({
      bucket: "mlflow-prod-artifacts-333333333333-replica",
      region: "eu-central-1",
      lifecycle: { prevent_destroy: true },
    });
    expect(byPrefix(json, "aws_kms_key", "artifact_store_replica_key")).toMatchObject({
      region: "eu-central-1",
      enable_key_rotation: true,
    });
    expect(byPrefix(json, "aws_s3_bucket_versioning", "artifact_store_replica_versioning")).toMatchObject({
      region: "eu-central-1",
      versioning_configuration: { status: "Enabled" },
    });
    expect(byPrefix(json, "aws_s3_bucket_public_access_block", "artifact_store_replica_bucket_public_access").region).toBe("eu-central-1");
    const [rule] = byPrefix(json, "aws_s3_bucket_replication_configuration", "artifact_store_replication").rule;
    expect(rule).toMatchObject({
      status: "Enabled",
      delete_marker_replication: { status: "Enabled" },
      source_selection_criteria: { sse_kms_encrypted_objects: { status: "Enabled" } },
      destination: {
        storage_class: "STANDARD_IA",
        encryption_configuration: { replica_kms_key_id: expect.stringMatching(/artifact_store_replica_key/) },
      },
    });
    const role = byPrefix(json, "aws_iam_role", "artifact_store_replication_role");
    expect(JSON.parse(role.assume_role_policy).Statement[0].Principal).toEqual({ Service: "s3.amazonaws.com" });
    const policy = byPrefix(json, "aws_iam_role_policy", "artifact_store_replication_policy");
    expect(statement(policy, "DecryptSource").Condition).toEqual({ StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" } });
    expect(statement(policy, "EncryptReplica").Condition).toEqual({ StringEquals: { "kms:ViaService": "s3.eu-central-1.amazonaws.com" } });
    expect(statement(policy, "WriteReplica").Action).toEqual(["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]);
  });
});

describe("artifact store validation", () => {
  it.each<[string, Partial<ArtifactStoreProps>, RegExp]>([
    ["an invalid bucket name", { bucketName: "My_Bucket" }, /test\/store: bucketName is .*: expected 3-63 lower-case/],
    ["a prefix with a leading slash", { prefix: "/mlartifacts" }, /prefix is .*: expected an S3 key prefix without leading or trailing/],
    [
      "force_destroy with prevent_destroy",
      { forceDestroy: true, preventDestroy: true },
      /forceDestroy is true: expected false while preventDestroy is true/,
    ],
    [
      "an IA transition before 30 days",
      { lifecycle: { transitionToInfrequentAccessDays: 10 } },
      /lifecycle\.transitionToInfrequentAccessDays is 10: expected a whole number of days from 30 to 36500/,
    ],
    [
      "Glacier IR less than 30 days after IA",
      { lifecycle: { transitionToInfrequentAccessDays: 40, transitionToGlacierIrDays: 60 } },
      /transitionToGlacierIrDays is 60: expected at least 30 days after transitionToInfrequentAccessDays \(>= 70\)/,
    ],
    [
      "expiry before the last transition",
      { lifecycle: { transitionToGlacierIrDays: 90, expireDays: 60 } },
      /lifecycle\.expireDays is 60: expected later than the last storage-class transition \(> 90\)/,
    ],
    [
      "a negative noncurrent count",
      { lifecycle: { noncurrentVersionsToKeep: -1 } },
      /noncurrentVersionsToKeep is -1: expected a whole number of days from 0 to 100/,
    ],
    [
      "a cap not above the noncurrent expiry",
      { lifecycle: { noncurrentExpireDays: 60, noncurrentMaxDays: 60 } },
      /noncurrentMaxDays is 60: expected more than noncurrentExpireDays \(> 60\)/,
    ],
    [
      "replication into its own region",
      { region: "eu-west-1", accountId: "111111111111", replicationRegion: "eu-west-1" },
      /replicationRegion is "eu-west-1": expected a region other than the bucket's own \(eu-west-1\)/,
    ],
    [
      "logging without an account id",
      { accessLogging: true },
      /accountId is unset: expected the account id when accessLogging or replicationRegion is set/,
    ],
    [
      "a name too long for its replica",
      { bucketName: "a".repeat(60), region: "eu-west-1", accountId: "111111111111", replicationRegion: "eu-central-1" },
      /bucketName is "a+": expected a name short enough for its derived log\/replica bucket names \(68 > 63/,
    ],
  ])("rejects %s at synth", (_what, props, message) => {
    expect(build(props)).toThrow(message);
  });

  it("reports contradictory retention in the environment configuration, naming environment, field and range", () => {
    const attempt = () => envConfig("staging", { artifacts: { transitionToGlacierIrDays: 200, expireDays: 100 } });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      /environment "staging": field artifacts\.expireDays = 100: expected later than the last storage-class transition \(> 200 days\)/,
    );
    expect(() => envConfig("dev", { artifacts: { noncurrentVersionsToKeep: -2 } })).toThrow(
      /environment "dev": field artifacts\.noncurrentVersionsToKeep = -2: expected versions: a whole number from 0 to 100/,
    );
    expect(() => envConfig("dev", { artifacts: { noncurrentExpireDays: 400 } })).toThrow(
      /environment "dev": field artifacts\.noncurrentMaxDays = nothing: expected more than noncurrentExpireDays \(> 400 days\)/,
    );
  });
});
