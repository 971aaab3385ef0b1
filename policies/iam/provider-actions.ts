/**
 * The IAM actions Terraform's AWS provider (hashicorp/aws 6.25.0, the version the stacks pin) calls to
 * create, read, update and delete each AWS resource type and data source this repository uses, and the ARN
 * each call is authorized on. One row per type, with its sources: the provider's source file that makes
 * the calls (github.com/hashicorp/terraform-provider-aws, `internal/service/...`) and the Service
 * Authorization Reference page that maps each API call to its IAM action, resource type and condition keys
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_<service>.html), plus the user
 * guide page for calls a service makes on the caller's behalf (KMS grants, service-linked roles, log
 * delivery).
 *
 * The tests (test/policies/iam-coverage.test.ts) fail when a synthesized stack, or a construct's import,
 * has an AWS type without a row here, when the deploy role's policy denies a call of a type it deploys, and
 * when the plan role's policy denies a read. Add the row (with its sources) before the resource.
 *
 * Tags: every stack sets the provider's default_tags, so every taggable resource is created and updated
 * with tags; a service that authorizes tags on create separately (aws:RequestTag) needs its tagging action.
 */
import type { Instance } from "./instances";

/** One call: its IAM action, where it is authorized, the request's condition keys, and when it is made. */
export interface Call {
  readonly action: string;
  /** The ARN the call is authorized on. @default the instance's own ARN (`arn` of its row) */
  readonly on?: "*" | ((i: Instance) => string | undefined);
  /** Condition keys the request carries. */
  readonly context?: (i: Instance) => Record<string, string | string[]>;
  /** Only when this holds (an optional argument is set). @default always */
  readonly when?: (i: Instance) => boolean;
}

/** The row of one resource type or data source. */
export interface TypeActions {
  readonly type: string;
  readonly kind: "resource" | "data";
  /** Where the calls and their IAM mapping come from. */
  readonly sources: readonly string[];
  /** The instance's own ARN (a placeholder for the part AWS generates, e.g. a key id). */
  readonly arn: (i: Instance) => string;
  readonly create: readonly (string | Call)[];
  readonly read: readonly (string | Call)[];
  readonly update: readonly (string | Call)[];
  readonly delete: readonly (string | Call)[];
}

const SAR = (service: string) => `https://docs.aws.amazon.com/service-authorization/latest/reference/list_${service}.html`;
const SRC = (file: string) => `https://github.com/hashicorp/terraform-provider-aws/blob/v6.25.0/internal/service/${file}`;

// ── ARN helpers ──
const iamArn = (i: Instance, resource: string) => `arn:${i.aws.partition}:iam::${i.aws.account}:${resource}`;
const regional = (i: Instance, service: string, resource: string, region = i.aws.region) =>
  `arn:${i.aws.partition}:${service}:${region}:${i.aws.account}:${resource}`;
/** The region of a resource: its own `region` argument (provider 6.x) or the provider's. */
const regionOf = (i: Instance) => (typeof i.attrs.region === "string" && !i.attrs.region.includes("${") ? i.attrs.region : i.aws.region);
/** A name, or a `name_prefix` with a stand-in for the suffix AWS or Terraform adds. */
const nameOf = (i: Instance, attr = "name") =>
  i.attrs[attr] !== undefined ? i.ref(i.attrs[attr]) : `${i.ref(i.attrs[`${attr}_prefix`] ?? i.name)}0000`;
const bucketArn = (i: Instance) => `arn:${i.aws.partition}:s3:::${i.ref(i.attrs.bucket)}`;
const roleArnByName = (i: Instance, name: unknown) => iamArn(i, `role/${i.ref(name)}`);
const keyArn = (i: Instance, value: unknown): string => {
  const v = i.ref(value);
  return v.startsWith("arn:") ? v : regional(i, "kms", `key/${v}`);
};
const clusterArn = (i: Instance) => regional(i, "eks", `cluster/${i.ref(i.attrs.cluster_name)}`);
const accessEntryArn = (i: Instance) =>
  regional(i, "eks", `access-entry/${i.ref(i.attrs.cluster_name)}/role/${i.aws.account}/x/00000000-0000-0000-0000-000000000000`);
const apigw = (i: Instance, path: string) => `arn:${i.aws.partition}:apigateway:${i.aws.region}::${path}`;
/** An HTTP API's id as the ARN path needs it: a reference to the API becomes a stand-in id. */
const apiId = (i: Instance) => `/apis/${i.target(i.attrs.api_id)?.name ?? "api"}`;

/** The boundary a role carries: the condition key IAM sets on calls that change the role. */
function boundaryOf(i: Instance, roleRef: unknown): Record<string, string> {
  const role = i.target(roleRef);
  const b = role?.attrs.permissions_boundary;
  return b === undefined ? {} : { "iam:PermissionsBoundary": role!.ref(b) };
}
/** The role a role policy or attachment belongs to (referenced by name or id). */
const roleOfPolicy = (i: Instance) => roleArnByName(i, i.attrs.role);
const passRole = (roleAttr: string, service: string): Call => ({
  action: "iam:PassRole",
  on: (i) => i.ref(i.attrs[roleAttr]),
  context: () => ({ "iam:PassedToService": service }),
  when: (i) => i.attrs[roleAttr] !== undefined,
});
/** KMS calls a service makes with the caller's credentials (kms:ViaService is that service). */
const kmsVia = (actions: readonly string[], keyAttr: string, service: string, keyFrom?: (i: Instance) => unknown): Call[] =>
  actions.map((action) => ({
    action,
    on: (i) => keyArn(i, keyFrom ? keyFrom(i) : i.attrs[keyAttr]),
    context: (i) => ({ "kms:ViaService": `${service}.${regionOf(i)}.amazonaws.com` }),
    when: (i) => (keyFrom ? keyFrom(i) : i.attrs[keyAttr]) !== undefined,
  }));
const slr = (serviceName: string): Call => ({
  action: "iam:CreateServiceLinkedRole",
  on: (i) => iamArn(i, `role/aws-service-role/${serviceName}/*`),
  context: () => ({ "iam:AWSServiceName": serviceName }),
});
const star = (...actions: string[]): Call[] => actions.map((action) => ({ action, on: "*" as const }));
/** The condition keys of a call on a resource that carries the stack's default tags (and, for a tagging call, sets them). */
const resourceTags = (i: Instance): Record<string, string> =>
  Object.fromEntries(Object.entries(i.aws.defaultTags).map(([k, v]) => [`aws:ResourceTag/${k}`, v]));
const requestTags = (i: Instance): Record<string, string> =>
  Object.fromEntries(Object.entries(i.aws.defaultTags).map(([k, v]) => [`aws:RequestTag/${k}`, v]));
/** Calls on a KMS key the stack created (it carries the default tags). */
const onTaggedKey = (...actions: string[]): Call[] => actions.map((action) => ({ action, context: resourceTags }));

// ── S3 bucket sub-resources: the same shape, their own Put/Get (a delete is a Put of nothing) ──
const bucketPart = (
  type: string,
  file: string,
  put: string,
  get: string,
  remove: string = put,
  extra: Partial<TypeActions> = {},
): TypeActions => ({
  type,
  kind: "resource",
  sources: [SRC(`s3/${file}`), SAR("amazons3")],
  arn: bucketArn,
  create: [put, get],
  read: [get],
  update: [put],
  delete: [remove],
  ...extra,
});

export const PROVIDER_ACTIONS: readonly TypeActions[] = [
  // ── S3 ──
  {
    type: "aws_s3_bucket",
    kind: "resource",
    sources: [SRC("s3/bucket.go"), SAR("amazons3")],
    arn: bucketArn,
    create: ["s3:CreateBucket", "s3:PutBucketTagging", "s3:ListBucket"],
    // resourceBucketRead: HeadBucket (s3:ListBucket), then every bucket-level configuration it reports.
    read: [
      "s3:ListBucket",
      "s3:GetBucketPolicy",
      "s3:GetBucketAcl",
      "s3:GetBucketCORS",
      "s3:GetBucketWebsite",
      "s3:GetBucketVersioning",
      "s3:GetAccelerateConfiguration",
      "s3:GetBucketRequestPayment",
      "s3:GetBucketLogging",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
      "s3:GetEncryptionConfiguration",
      "s3:GetBucketObjectLockConfiguration",
      "s3:GetBucketTagging",
    ],
    update: ["s3:PutBucketTagging"],
    delete: [
      "s3:DeleteBucket",
      // force_destroy empties the bucket first, every version and delete marker (emptyBucket in bucket.go).
      ...["s3:ListBucketVersions"].map((action) => ({ action, when: (i: Instance) => i.attrs.force_destroy === true })),
      ...["s3:DeleteObject", "s3:DeleteObjectVersion"].map((action) => ({
        action,
        on: (i: Instance) => `${bucketArn(i)}/*`,
        when: (i: Instance) => i.attrs.force_destroy === true,
      })),
    ],
  },
  bucketPart("aws_s3_bucket_policy", "bucket_policy.go", "s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"),
  bucketPart("aws_s3_bucket_versioning", "bucket_versioning.go", "s3:PutBucketVersioning", "s3:GetBucketVersioning"),
  bucketPart(
    "aws_s3_bucket_server_side_encryption_configuration",
    "bucket_server_side_encryption_configuration.go",
    "s3:PutEncryptionConfiguration",
    "s3:GetEncryptionConfiguration",
  ),
  bucketPart(
    "aws_s3_bucket_public_access_block",
    "bucket_public_access_block.go",
    "s3:PutBucketPublicAccessBlock",
    "s3:GetBucketPublicAccessBlock",
  ),
  bucketPart(
    "aws_s3_bucket_ownership_controls",
    "bucket_ownership_controls.go",
    "s3:PutBucketOwnershipControls",
    "s3:GetBucketOwnershipControls",
  ),
  bucketPart(
    "aws_s3_bucket_lifecycle_configuration",
    "bucket_lifecycle_configuration.go",
    "s3:PutLifecycleConfiguration",
    "s3:GetLifecycleConfiguration",
  ),
  bucketPart("aws_s3_bucket_logging", "bucket_logging.go", "s3:PutBucketLogging", "s3:GetBucketLogging"),
  bucketPart(
    "aws_s3_bucket_replication_configuration",
    "bucket_replication_configuration.go",
    "s3:PutReplicationConfiguration",
    "s3:GetReplicationConfiguration",
    "s3:PutReplicationConfiguration",
    {
      // S3 assumes the replication role: the caller passes it (PutBucketReplication's dependent action).
      create: ["s3:PutReplicationConfiguration", "s3:GetReplicationConfiguration", passRole("role", "s3.amazonaws.com")],
      update: ["s3:PutReplicationConfiguration", passRole("role", "s3.amazonaws.com")],
    },
  ),

  // ── IAM ──
  {
    type: "aws_iam_role",
    kind: "resource",
    sources: [
      SRC("iam/role.go"),
      SAR("awsidentityandaccessmanagementiam"),
      "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html",
    ],
    arn: (i) => iamArn(i, `role${i.attrs.path ?? "/"}${nameOf(i)}`),
    create: [
      {
        action: "iam:CreateRole",
        context: (i): Record<string, string> =>
          i.attrs.permissions_boundary ? { "iam:PermissionsBoundary": i.ref(i.attrs.permissions_boundary) } : {},
      },
      "iam:TagRole",
      "iam:GetRole",
    ],
    read: ["iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"],
    update: [
      "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
      "iam:TagRole",
      "iam:UntagRole",
      {
        action: "iam:PutRolePermissionsBoundary",
        context: (i) => ({ "iam:PermissionsBoundary": i.ref(i.attrs.permissions_boundary) }),
        when: (i) => i.attrs.permissions_boundary !== undefined,
      },
    ],
    // deleteRole: the role's instance profiles first (the provider lists them even when there are none).
    delete: ["iam:ListInstanceProfilesForRole", "iam:DeleteRole"],
  },
  {
    type: "aws_iam_policy",
    kind: "resource",
    sources: [SRC("iam/policy.go"), SAR("awsidentityandaccessmanagementiam")],
    arn: (i) => iamArn(i, `policy${i.attrs.path ?? "/"}${nameOf(i)}`),
    create: ["iam:CreatePolicy", "iam:TagPolicy", "iam:GetPolicy", "iam:GetPolicyVersion"],
    read: ["iam:GetPolicy", "iam:GetPolicyVersion"],
    // A new version; beyond five, the oldest non-default one is deleted first.
    update: ["iam:CreatePolicyVersion", "iam:ListPolicyVersions", "iam:DeletePolicyVersion", "iam:TagPolicy", "iam:UntagPolicy"],
    delete: ["iam:ListPolicyVersions", "iam:DeletePolicyVersion", "iam:DeletePolicy"],
  },
  {
    type: "aws_iam_role_policy",
    kind: "resource",
    sources: [SRC("iam/role_policy.go"), SAR("awsidentityandaccessmanagementiam")],
    arn: roleOfPolicy,
    create: [{ action: "iam:PutRolePolicy", context: (i) => boundaryOf(i, i.attrs.role) }, "iam:GetRolePolicy"],
    read: ["iam:GetRolePolicy"],
    update: [{ action: "iam:PutRolePolicy", context: (i) => boundaryOf(i, i.attrs.role) }],
    delete: [{ action: "iam:DeleteRolePolicy", context: (i) => boundaryOf(i, i.attrs.role) }],
  },
  {
    type: "aws_iam_role_policy_attachment",
    kind: "resource",
    sources: [SRC("iam/role_policy_attachment.go"), SAR("awsidentityandaccessmanagementiam")],
    arn: roleOfPolicy,
    create: [
      { action: "iam:AttachRolePolicy", context: (i) => ({ "iam:PolicyARN": i.ref(i.attrs.policy_arn), ...boundaryOf(i, i.attrs.role) }) },
      "iam:ListAttachedRolePolicies",
    ],
    read: ["iam:ListAttachedRolePolicies"],
    update: [],
    delete: [
      { action: "iam:DetachRolePolicy", context: (i) => ({ "iam:PolicyARN": i.ref(i.attrs.policy_arn), ...boundaryOf(i, i.attrs.role) }) },
    ],
  },
  {
    type: "aws_iam_openid_connect_provider",
    kind: "resource",
    sources: [SRC("iam/openid_connect_provider.go"), SAR("awsidentityandaccessmanagementiam")],
    arn: (i) => iamArn(i, `oidc-provider/${i.ref(i.attrs.url).replace(/^https:\/\//, "")}`),
    create: ["iam:CreateOpenIDConnectProvider", "iam:TagOpenIDConnectProvider", "iam:GetOpenIDConnectProvider"],
    read: ["iam:GetOpenIDConnectProvider"],
    update: [
      "iam:UpdateOpenIDConnectProviderThumbprint",
      "iam:AddClientIDToOpenIDConnectProvider",
      "iam:RemoveClientIDFromOpenIDConnectProvider",
      "iam:TagOpenIDConnectProvider",
      "iam:UntagOpenIDConnectProvider",
    ],
    delete: ["iam:DeleteOpenIDConnectProvider"],
  },

  // ── KMS ──
  {
    type: "aws_kms_key",
    kind: "resource",
    sources: [
      SRC("kms/key.go"),
      SAR("awskeymanagementservice"),
      "https://docs.aws.amazon.com/kms/latest/developerguide/manage-tags-api.html",
    ],
    // In its own region (a replica bucket's key lives in the replica's region).
    arn: (i) => regional(i, "kms", `key/${i.name}`, regionOf(i)),
    // CreateKey has no resource-level permission; tags on create need kms:TagResource.
    create: [
      // Tags on CreateKey: kms:TagResource "must cover all KMS keys in the account and Region" (KMS developer guide, manage-tags-api).
      ...star("kms:CreateKey"),
      { action: "kms:TagResource", on: (i) => regional(i, "kms", "key/*", regionOf(i)), context: requestTags },
      ...onTaggedKey("kms:EnableKeyRotation", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"),
    ],
    read: onTaggedKey("kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"),
    update: [
      ...onTaggedKey(
        "kms:PutKeyPolicy",
        "kms:UpdateKeyDescription",
        "kms:EnableKeyRotation",
        "kms:DisableKeyRotation",
        "kms:EnableKey",
        "kms:DisableKey",
        "kms:UntagResource",
      ),
      { action: "kms:TagResource", context: (i) => ({ ...resourceTags(i), ...requestTags(i) }) },
    ],
    delete: onTaggedKey("kms:ScheduleKeyDeletion"),
  },
  {
    type: "aws_kms_alias",
    kind: "resource",
    sources: [
      SRC("kms/alias.go"),
      SAR("awskeymanagementservice"),
      "https://docs.aws.amazon.com/kms/latest/developerguide/alias-access.html",
    ],
    arn: (i) => regional(i, "kms", nameOf(i)),
    // Alias calls are authorized on the alias and on the key.
    create: [
      "kms:CreateAlias",
      { action: "kms:CreateAlias", on: (i) => keyArn(i, i.attrs.target_key_id), context: resourceTags },
      ...star("kms:ListAliases"),
    ],
    read: star("kms:ListAliases"),
    update: ["kms:UpdateAlias", { action: "kms:UpdateAlias", on: (i) => keyArn(i, i.attrs.target_key_id), context: resourceTags }],
    delete: ["kms:DeleteAlias", { action: "kms:DeleteAlias", on: (i) => keyArn(i, i.attrs.target_key_id), context: resourceTags }],
  },

  // ── RDS ──
  {
    type: "aws_db_instance",
    kind: "resource",
    sources: [
      SRC("rds/instance.go"),
      SAR("amazonrds"),
      "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Overview.Encryption.Keys.html",
      "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Monitoring.OS.Enabling.html",
    ],
    arn: (i) => regional(i, "rds", `db:${nameOf(i, "identifier")}`),
    create: [
      { action: "rds:CreateDBInstance", when: (i) => i.attrs.replicate_source_db === undefined },
      { action: "rds:CreateDBInstanceReadReplica", when: (i) => i.attrs.replicate_source_db !== undefined },
      "rds:AddTagsToResource",
      "rds:DescribeDBInstances",
      // Enhanced monitoring: RDS assumes the monitoring role the caller passes.
      passRole("monitoring_role_arn", "monitoring.rds.amazonaws.com"),
      // Storage and Performance Insights with a customer-managed key: RDS creates a grant for the caller.
      ...kmsVia(["kms:CreateGrant", "kms:DescribeKey"], "kms_key_id", "rds"),
      ...kmsVia(["kms:CreateGrant", "kms:DescribeKey"], "performance_insights_kms_key_id", "rds"),
      slr("rds.amazonaws.com"),
    ],
    read: ["rds:DescribeDBInstances", "rds:ListTagsForResource"],
    update: [
      "rds:ModifyDBInstance",
      "rds:AddTagsToResource",
      "rds:RemoveTagsFromResource",
      passRole("monitoring_role_arn", "monitoring.rds.amazonaws.com"),
    ],
    delete: [
      "rds:DeleteDBInstance",
      "rds:DescribeDBInstances",
      {
        action: "rds:CreateDBSnapshot",
        on: (i) => regional(i, "rds", `snapshot:${i.ref(i.attrs.final_snapshot_identifier ?? "final")}`),
        when: (i) => i.attrs.skip_final_snapshot !== true,
      },
    ],
  },
  {
    type: "aws_db_parameter_group",
    kind: "resource",
    sources: [SRC("rds/parameter_group.go"), SAR("amazonrds")],
    arn: (i) => regional(i, "rds", `pg:${nameOf(i)}`),
    create: [
      "rds:CreateDBParameterGroup",
      "rds:AddTagsToResource",
      "rds:ModifyDBParameterGroup",
      "rds:DescribeDBParameterGroups",
      "rds:DescribeDBParameters",
    ],
    read: ["rds:DescribeDBParameterGroups", "rds:DescribeDBParameters", "rds:ListTagsForResource"],
    update: ["rds:ModifyDBParameterGroup", "rds:ResetDBParameterGroup", "rds:AddTagsToResource", "rds:RemoveTagsFromResource"],
    delete: ["rds:DeleteDBParameterGroup"],
  },
  {
    type: "aws_db_subnet_group",
    kind: "resource",
    sources: [SRC("rds/subnet_group.go"), SAR("amazonrds")],
    arn: (i) => regional(i, "rds", `subgrp:${nameOf(i)}`),
    create: ["rds:CreateDBSubnetGroup", "rds:AddTagsToResource", "rds:DescribeDBSubnetGroups"],
    read: ["rds:DescribeDBSubnetGroups", "rds:ListTagsForResource"],
    update: ["rds:ModifyDBSubnetGroup", "rds:AddTagsToResource", "rds:RemoveTagsFromResource"],
    delete: ["rds:DeleteDBSubnetGroup"],
  },

  // ── CloudWatch Logs and alarms ──
  {
    type: "aws_cloudwatch_log_group",
    kind: "resource",
    sources: [SRC("logs/group.go"), SAR("amazoncloudwatchlogs")],
    arn: (i) => regional(i, "logs", `log-group:${nameOf(i)}`),
    create: [
      "logs:CreateLogGroup",
      "logs:TagResource",
      "logs:PutRetentionPolicy",
      { action: "logs:DescribeLogGroups", on: (i) => regional(i, "logs", "log-group:*") },
    ],
    read: [{ action: "logs:DescribeLogGroups", on: (i) => regional(i, "logs", "log-group:*") }, "logs:ListTagsForResource"],
    update: [
      "logs:PutRetentionPolicy",
      "logs:DeleteRetentionPolicy",
      "logs:AssociateKmsKey",
      "logs:DisassociateKmsKey",
      "logs:TagResource",
      "logs:UntagResource",
    ],
    delete: ["logs:DeleteLogGroup"],
  },
  {
    type: "aws_cloudwatch_metric_alarm",
    kind: "resource",
    sources: [SRC("cloudwatch/metric_alarm.go"), SAR("amazoncloudwatch")],
    arn: (i) => regional(i, "cloudwatch", `alarm:${i.ref(i.attrs.alarm_name)}`),
    create: ["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource", "cloudwatch:DescribeAlarms"],
    read: ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"],
    update: ["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource", "cloudwatch:UntagResource"],
    delete: ["cloudwatch:DeleteAlarms"],
  },

  // ── SNS ──
  {
    type: "aws_sns_topic",
    kind: "resource",
    sources: [SRC("sns/topic.go"), SAR("amazonsns")],
    arn: (i) => regional(i, "sns", nameOf(i)),
    create: ["sns:CreateTopic", "sns:TagResource", "sns:SetTopicAttributes", "sns:GetTopicAttributes"],
    read: ["sns:GetTopicAttributes", "sns:ListTagsForResource"],
    update: ["sns:SetTopicAttributes", "sns:TagResource", "sns:UntagResource"],
    delete: ["sns:DeleteTopic"],
  },
  {
    type: "aws_sns_topic_policy",
    kind: "resource",
    sources: [SRC("sns/topic_policy.go"), SAR("amazonsns")],
    arn: (i) => i.ref(i.attrs.arn),
    create: ["sns:SetTopicAttributes", "sns:GetTopicAttributes"],
    read: ["sns:GetTopicAttributes"],
    update: ["sns:SetTopicAttributes"],
    // Deleting the policy writes the topic's default policy back.
    delete: ["sns:SetTopicAttributes", "sns:GetTopicAttributes"],
  },
  {
    type: "aws_sns_topic_subscription",
    kind: "resource",
    sources: [SRC("sns/topic_subscription.go"), SAR("amazonsns")],
    arn: (i) => i.ref(i.attrs.topic_arn),
    // Subscription calls other than Subscribe have no resource-level permission.
    create: ["sns:Subscribe", ...star("sns:GetSubscriptionAttributes")],
    read: [...star("sns:GetSubscriptionAttributes"), "sns:ListSubscriptionsByTopic"],
    update: star("sns:SetSubscriptionAttributes"),
    delete: star("sns:Unsubscribe"),
  },

  // ── Secrets Manager ──
  {
    type: "aws_secretsmanager_secret",
    kind: "resource",
    sources: [SRC("secretsmanager/secret.go"), SAR("awssecretsmanager")],
    arn: (i) => regional(i, "secretsmanager", `secret:${nameOf(i)}-AbCdEf`),
    create: ["secretsmanager:CreateSecret", "secretsmanager:TagResource", "secretsmanager:DescribeSecret"],
    read: ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"],
    update: [
      "secretsmanager:UpdateSecret",
      "secretsmanager:TagResource",
      "secretsmanager:UntagResource",
      "secretsmanager:PutResourcePolicy",
      "secretsmanager:DeleteResourcePolicy",
    ],
    delete: ["secretsmanager:DeleteSecret", "secretsmanager:DescribeSecret"],
  },
  {
    type: "aws_secretsmanager_secret_version",
    kind: "resource",
    sources: [
      SRC("secretsmanager/secret_version.go"),
      SAR("awssecretsmanager"),
      "https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html",
    ],
    arn: (i) => i.ref(i.attrs.secret_id),
    // A secret encrypted with a customer-managed key: Secrets Manager uses it with the caller's permissions.
    create: [
      "secretsmanager:PutSecretValue",
      "secretsmanager:GetSecretValue",
      ...kmsVia(["kms:GenerateDataKey", "kms:Decrypt"], "", "secretsmanager", (i) => i.target(i.attrs.secret_id)?.attrs.kms_key_id),
    ],
    read: [
      "secretsmanager:GetSecretValue",
      "secretsmanager:DescribeSecret",
      ...kmsVia(["kms:Decrypt"], "", "secretsmanager", (i) => i.target(i.attrs.secret_id)?.attrs.kms_key_id),
    ],
    update: [
      "secretsmanager:PutSecretValue",
      "secretsmanager:UpdateSecretVersionStage",
      ...kmsVia(["kms:GenerateDataKey", "kms:Decrypt"], "", "secretsmanager", (i) => i.target(i.attrs.secret_id)?.attrs.kms_key_id),
    ],
    delete: ["secretsmanager:UpdateSecretVersionStage", "secretsmanager:DescribeSecret"],
  },

  // ── EC2 security groups ──
  {
    type: "aws_security_group",
    kind: "resource",
    sources: [SRC("ec2/vpc_security_group.go"), SAR("amazonec2")],
    arn: (i) => regional(i, "ec2", `security-group/sg-${i.name}`),
    create: [
      "ec2:CreateSecurityGroup",
      { action: "ec2:CreateSecurityGroup", on: (i) => regional(i, "ec2", "vpc/*") },
      { action: "ec2:CreateTags", context: () => ({ "ec2:CreateAction": "CreateSecurityGroup" }) },
      // The provider removes the egress rule AWS adds to every new group.
      "ec2:RevokeSecurityGroupEgress",
      ...star("ec2:DescribeSecurityGroups"),
    ],
    read: star("ec2:DescribeSecurityGroups"),
    update: [
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupEgress",
      "ec2:CreateTags",
      "ec2:DeleteTags",
    ],
    delete: [
      "ec2:DeleteSecurityGroup",
      ...star("ec2:DescribeNetworkInterfaces"),
      ...["ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"].map((action) => ({
        action,
        when: (i: Instance) => i.attrs.revoke_rules_on_delete === true,
      })),
    ],
  },
  ...(["ingress", "egress"] as const).map((direction): TypeActions => {
    const verb = direction === "ingress" ? "Ingress" : "Egress";
    const group = (i: Instance) => regional(i, "ec2", `security-group/sg-${i.target(i.attrs.security_group_id)?.name ?? "group"}`);
    return {
      type: `aws_vpc_security_group_${direction}_rule`,
      kind: "resource",
      sources: [SRC(`ec2/vpc_security_group_${direction}_rule.go`), SAR("amazonec2")],
      arn: (i) => regional(i, "ec2", `security-group-rule/sgr-${i.name}`),
      create: [
        { action: `ec2:AuthorizeSecurityGroup${verb}`, on: group },
        { action: "ec2:CreateTags", context: () => ({ "ec2:CreateAction": `AuthorizeSecurityGroup${verb}` }) },
        ...star("ec2:DescribeSecurityGroupRules"),
      ],
      read: star("ec2:DescribeSecurityGroupRules"),
      update: [{ action: "ec2:ModifySecurityGroupRules", on: group }, "ec2:CreateTags", "ec2:DeleteTags"],
      delete: [{ action: `ec2:RevokeSecurityGroup${verb}`, on: group }],
    };
  }),

  // ── ECR ──
  {
    type: "aws_ecr_repository",
    kind: "resource",
    sources: [
      SRC("ecr/repository.go"),
      SAR("amazonelasticcontainerregistry"),
      "https://docs.aws.amazon.com/AmazonECR/latest/userguide/encryption-at-rest.html",
    ],
    arn: (i) => regional(i, "ecr", `repository/${nameOf(i)}`),
    create: [
      "ecr:CreateRepository",
      "ecr:TagResource",
      "ecr:DescribeRepositories",
      // A KMS-encrypted repository: ECR creates a grant with the caller's permissions.
      ...kmsVia(
        ["kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"],
        "",
        "ecr",
        (i) => (i.attrs.encryption_configuration as { kms_key?: string }[] | undefined)?.[0]?.kms_key,
      ),
    ],
    read: ["ecr:DescribeRepositories", "ecr:ListTagsForResource"],
    update: ["ecr:PutImageScanningConfiguration", "ecr:PutImageTagMutability", "ecr:TagResource", "ecr:UntagResource"],
    delete: ["ecr:DeleteRepository"],
  },
  {
    // A repository other environments copy released images from (constructs/model-endpoint: pullerRoleArns).
    type: "aws_ecr_repository_policy",
    kind: "resource",
    sources: [
      SRC("ecr/repository_policy.go"),
      SAR("amazonelasticcontainerregistry"),
      "https://docs.aws.amazon.com/AmazonECR/latest/userguide/set-repository-policy.html",
    ],
    arn: (i) => regional(i, "ecr", `repository/${i.ref(i.attrs.repository)}`),
    // Create and update are one Put (SetRepositoryPolicy, then a read); delete ignores a missing policy.
    create: ["ecr:SetRepositoryPolicy", "ecr:GetRepositoryPolicy"],
    read: ["ecr:GetRepositoryPolicy"],
    update: ["ecr:SetRepositoryPolicy", "ecr:GetRepositoryPolicy"],
    delete: ["ecr:DeleteRepositoryPolicy"],
  },
  {
    type: "aws_ecr_lifecycle_policy",
    kind: "resource",
    sources: [SRC("ecr/lifecycle_policy.go"), SAR("amazonelasticcontainerregistry")],
    arn: (i) => regional(i, "ecr", `repository/${i.ref(i.attrs.repository)}`),
    create: ["ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy"],
    read: ["ecr:GetLifecyclePolicy"],
    update: ["ecr:PutLifecyclePolicy"],
    delete: ["ecr:DeleteLifecyclePolicy"],
  },

  // ── EKS ──
  {
    type: "aws_eks_access_entry",
    kind: "resource",
    sources: [SRC("eks/access_entry.go"), SAR("amazonelastickubernetesservice")],
    arn: accessEntryArn,
    create: [{ action: "eks:CreateAccessEntry", on: clusterArn }, "eks:TagResource", "eks:DescribeAccessEntry"],
    read: ["eks:DescribeAccessEntry"],
    update: ["eks:UpdateAccessEntry", "eks:TagResource", "eks:UntagResource"],
    delete: ["eks:DeleteAccessEntry"],
  },
  {
    type: "aws_eks_access_policy_association",
    kind: "resource",
    sources: [SRC("eks/access_policy_association.go"), SAR("amazonelastickubernetesservice")],
    arn: accessEntryArn,
    create: ["eks:AssociateAccessPolicy", "eks:ListAssociatedAccessPolicies"],
    read: ["eks:ListAssociatedAccessPolicies"],
    update: [],
    delete: ["eks:DisassociateAccessPolicy"],
  },
  {
    type: "aws_eks_pod_identity_association",
    kind: "resource",
    sources: [
      SRC("eks/pod_identity_association.go"),
      SAR("amazonelastickubernetesservice"),
      "https://docs.aws.amazon.com/eks/latest/userguide/pod-id-association.html",
    ],
    arn: (i) => regional(i, "eks", `podidentityassociation/${i.ref(i.attrs.cluster_name)}/a-${i.name}`),
    // EKS checks the role and takes it over: the caller needs iam:GetRole and iam:PassRole on it.
    create: [
      { action: "eks:CreatePodIdentityAssociation", on: clusterArn },
      "eks:TagResource",
      "eks:DescribePodIdentityAssociation",
      passRole("role_arn", "pods.eks.amazonaws.com"),
      { action: "iam:GetRole", on: (i) => i.ref(i.attrs.role_arn) },
    ],
    read: ["eks:DescribePodIdentityAssociation"],
    update: ["eks:UpdatePodIdentityAssociation", "eks:TagResource", "eks:UntagResource", passRole("role_arn", "pods.eks.amazonaws.com")],
    delete: ["eks:DeletePodIdentityAssociation"],
  },

  // ── API Gateway (HTTP APIs): IAM authorizes the REST verbs on the resource paths ──
  ...apiGatewayRows(),

  // ── Elastic Load Balancing v2 ──
  {
    type: "aws_lb",
    kind: "resource",
    sources: [SRC("elbv2/load_balancer.go"), SAR("awselasticloadbalancingv2")],
    arn: (i) => regional(i, "elasticloadbalancing", `loadbalancer/app/${nameOf(i)}/0000000000000000`),
    create: [
      "elasticloadbalancing:CreateLoadBalancer",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      ...star("elasticloadbalancing:DescribeLoadBalancers"),
      slr("elasticloadbalancing.amazonaws.com"),
    ],
    read: [
      ...star(
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeTags",
      ),
    ],
    update: [
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:SetSecurityGroups",
      "elasticloadbalancing:SetSubnets",
      "elasticloadbalancing:SetIpAddressType",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
    ],
    // cleanupALBNetworkInterfaces: the ENIs an ALB leaves behind are detached and deleted.
    delete: [
      "elasticloadbalancing:DeleteLoadBalancer",
      ...star("ec2:DescribeNetworkInterfaces"),
      ...["ec2:DetachNetworkInterface", "ec2:DeleteNetworkInterface"].map((action) => ({
        action,
        on: (i: Instance) => regional(i, "ec2", "network-interface/*"),
      })),
    ],
  },
  {
    type: "aws_lb_listener",
    kind: "resource",
    sources: [SRC("elbv2/listener.go"), SAR("awselasticloadbalancingv2")],
    arn: (i) =>
      regional(
        i,
        "elasticloadbalancing",
        `listener/app/${i.target(i.attrs.load_balancer_arn)?.name ?? "lb"}/0000000000000000/0000000000000000`,
      ),
    create: ["elasticloadbalancing:CreateListener", "elasticloadbalancing:AddTags", ...star("elasticloadbalancing:DescribeListeners")],
    read: star(
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeListenerAttributes",
      "elasticloadbalancing:DescribeTags",
    ),
    update: [
      "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:ModifyListenerAttributes",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
    ],
    delete: ["elasticloadbalancing:DeleteListener"],
  },
  {
    type: "aws_lb_listener_rule",
    kind: "resource",
    sources: [SRC("elbv2/listener_rule.go"), SAR("awselasticloadbalancingv2")],
    arn: (i) => regional(i, "elasticloadbalancing", "listener-rule/app/lb/0000000000000000/0000000000000000/0000000000000000"),
    create: [
      {
        action: "elasticloadbalancing:CreateRule",
        on: (i) => regional(i, "elasticloadbalancing", "listener/app/lb/0000000000000000/0000000000000000"),
      },
      "elasticloadbalancing:AddTags",
      ...star("elasticloadbalancing:DescribeRules"),
    ],
    read: star("elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTags"),
    update: [
      "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:SetRulePriorities",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
    ],
    delete: ["elasticloadbalancing:DeleteRule"],
  },
  {
    type: "aws_lb_target_group",
    kind: "resource",
    sources: [SRC("elbv2/target_group.go"), SAR("awselasticloadbalancingv2")],
    arn: (i) => regional(i, "elasticloadbalancing", `targetgroup/${nameOf(i)}/0000000000000000`),
    create: [
      "elasticloadbalancing:CreateTargetGroup",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:ModifyTargetGroupAttributes",
      ...star("elasticloadbalancing:DescribeTargetGroups"),
    ],
    read: star(
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTags",
    ),
    update: [
      "elasticloadbalancing:ModifyTargetGroup",
      "elasticloadbalancing:ModifyTargetGroupAttributes",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
    ],
    delete: ["elasticloadbalancing:DeleteTargetGroup"],
  },

  {
    // resourceRecordCreate/Read/Delete: the zone is looked up first (its name qualifies the record's),
    // then ChangeResourceRecordSets, and a create or delete waits for the change to be INSYNC (GetChange).
    type: "aws_route53_record",
    kind: "resource",
    sources: [SRC("route53/record.go"), SAR("amazonroute53")],
    arn: (i) => `arn:${i.aws.partition}:route53:::hostedzone/${i.ref(i.attrs.zone_id)}`,
    create: [
      "route53:GetHostedZone",
      {
        action: "route53:ChangeResourceRecordSets",
        context: (i) => ({
          "route53:ChangeResourceRecordSetsNormalizedRecordNames": [String(i.ref(i.attrs.name)).toLowerCase().replace(/\.$/, "")],
        }),
      },
      { action: "route53:GetChange", on: (i) => `arn:${i.aws.partition}:route53:::change/C0000000000000000000` },
    ],
    read: ["route53:GetHostedZone", "route53:ListResourceRecordSets"],
    update: [
      {
        action: "route53:ChangeResourceRecordSets",
        context: (i) => ({
          "route53:ChangeResourceRecordSetsNormalizedRecordNames": [String(i.ref(i.attrs.name)).toLowerCase().replace(/\.$/, "")],
        }),
      },
      { action: "route53:GetChange", on: (i) => `arn:${i.aws.partition}:route53:::change/C0000000000000000000` },
    ],
    delete: [
      "route53:GetHostedZone",
      {
        action: "route53:ChangeResourceRecordSets",
        context: (i) => ({
          "route53:ChangeResourceRecordSetsNormalizedRecordNames": [String(i.ref(i.attrs.name)).toLowerCase().replace(/\.$/, "")],
        }),
      },
      { action: "route53:GetChange", on: (i) => `arn:${i.aws.partition}:route53:::change/C0000000000000000000` },
    ],
  },

  // ── Data sources: read at every plan ──
  dataRow(
    "aws_eks_cluster",
    "eks/cluster_data_source.go",
    "amazonelastickubernetesservice",
    (i) => regional(i, "eks", `cluster/${i.ref(i.attrs.name)}`),
    ["eks:DescribeCluster"],
  ),
  dataRow(
    "aws_eks_addon",
    "eks/addon_data_source.go",
    "amazonelastickubernetesservice",
    (i) => regional(i, "eks", `addon/${i.ref(i.attrs.cluster_name)}/${i.ref(i.attrs.addon_name)}/*`),
    ["eks:DescribeAddon"],
  ),
  // The token is a presigned sts:GetCallerIdentity URL made locally: no call, and GetCallerIdentity needs no permission.
  dataRow("aws_eks_cluster_auth", "eks/cluster_auth_data_source.go", "awssecuritytokenservice", () => "*", []),
  dataRow("aws_subnets", "ec2/vpc_subnets_data_source.go", "amazonec2", () => "*", star("ec2:DescribeSubnets")),
  dataRow(
    "aws_secretsmanager_secret_version",
    "secretsmanager/secret_version_data_source.go",
    "awssecretsmanager",
    (i) => i.ref(i.attrs.secret_id),
    [
      "secretsmanager:GetSecretValue",
      // The secret's key is not in the JSON: any key of the account, used through Secrets Manager.
      {
        action: "kms:Decrypt",
        on: (i) => regional(i, "kms", "key/00000000-0000-0000-0000-000000000000"),
        context: (i) => ({ "kms:ViaService": `secretsmanager.${i.aws.region}.amazonaws.com` }),
      },
    ],
  ),
];

function dataRow(type: string, file: string, service: string, arn: (i: Instance) => string, read: readonly (string | Call)[]): TypeActions {
  return { type, kind: "data", sources: [SRC(file), SAR(service)], arn, create: [], read, update: [], delete: [] };
}

/** HTTP API resources: POST to the collection, GET/PATCH/DELETE on the item; tags through /tags/<arn>. */
function apiGatewayRows(): TypeActions[] {
  const sources = (file: string, extra: string[] = []) => [SRC(`apigatewayv2/${file}`), SAR("amazonapigatewaymanagementv2"), ...extra];
  const tags: Call[] = [{ action: "apigateway:POST", on: (i) => apigw(i, "/tags/*") }];
  const crud = (
    type: string,
    file: string,
    collection: (i: Instance) => string,
    tagged: boolean,
    extra: Partial<TypeActions> = {},
    docs: string[] = [],
  ): TypeActions => ({
    type,
    kind: "resource",
    sources: sources(file, docs),
    arn: (i) => apigw(i, `${collection(i)}/${i.name}`),
    create: [{ action: "apigateway:POST", on: (i) => apigw(i, collection(i)) }, ...(tagged ? tags : []), "apigateway:GET"],
    read: ["apigateway:GET"],
    update: ["apigateway:PATCH", ...(tagged ? [...tags, { action: "apigateway:DELETE", on: (i: Instance) => apigw(i, "/tags/*") }] : [])],
    delete: ["apigateway:DELETE"],
    ...extra,
  });
  // Access logs to CloudWatch Logs are "vended logs" (V1 permissions): the caller sets up the delivery.
  const logDelivery = star(
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
  ).map((c) => ({ ...c, when: (i: Instance) => i.attrs.access_log_settings !== undefined }));
  const logsDoc = [
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-and-resource-policy.html",
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html",
  ];
  const stage = crud("aws_apigatewayv2_stage", "stage.go", (i) => `${apiId(i)}/stages`, true, {}, logsDoc);
  return [
    crud("aws_apigatewayv2_api", "api.go", () => "/apis", true),
    crud("aws_apigatewayv2_authorizer", "authorizer.go", (i) => `${apiId(i)}/authorizers`, false),
    crud("aws_apigatewayv2_integration", "integration.go", (i) => `${apiId(i)}/integrations`, false),
    crud("aws_apigatewayv2_route", "route.go", (i) => `${apiId(i)}/routes`, false),
    {
      ...stage,
      create: [...stage.create, ...logDelivery],
      update: [...stage.update, ...logDelivery],
      delete: [...stage.delete, ...logDelivery],
    },
    crud("aws_apigatewayv2_domain_name", "domain_name.go", () => "/domainnames", true),
    crud(
      "aws_apigatewayv2_api_mapping",
      "api_mapping.go",
      (i) => `/domainnames/${i.target(i.attrs.domain_name)?.name ?? "domain"}/apimappings`,
      false,
    ),
    // A VPC link's network interfaces are managed by API Gateway's service-linked role, created on first use.
    crud("aws_apigatewayv2_vpc_link", "vpc_link.go", () => "/vpclinks", true, {}, [
      "https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-vpc-links-v2.html",
    ]),
  ].map((row) =>
    row.type === "aws_apigatewayv2_vpc_link" ? { ...row, create: [...row.create, slr("ops.apigateway.amazonaws.com")] } : row,
  );
}

/** The row of a type, or undefined. */
export function actionsOf(type: string, kind: "resource" | "data" = "resource"): TypeActions | undefined {
  return PROVIDER_ACTIONS.find((r) => r.type === type && r.kind === kind);
}

/** A call in its full form. */
export function callOf(c: string | Call): Call {
  return typeof c === "string" ? { action: c } : c;
}

/** The phases of a resource's life cycle. */
export const PHASES = ["create", "read", "update", "delete"] as const;
export type Phase = (typeof PHASES)[number];
