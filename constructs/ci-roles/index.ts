/**
 * AWS access for GitHub Actions without stored keys: GitHub's OIDC provider in the account
 * (`token.actions.githubusercontent.com`, audience `sts.amazonaws.com`) and the three roles the
 * pipelines assume with `sts:AssumeRoleWithWebIdentity` (docs/ci-cd.md):
 *
 * - plan (read-only): pull-request plans and the scheduled drift check. Trusts exactly
 *   `repo:<owner>/<repo>:pull_request` and `repo:<owner>/<repo>:ref:refs/heads/main`. Named read actions
 *   (what `terraform plan` refreshes and the data sources read: policies/iam/provider-actions.ts), the
 *   state object, writing saved plan files under `<planPrefix>` of the state bucket (the deploy job applies
 *   exactly that file), and the values of the Secrets Manager secrets the stack reads or manages (a
 *   refresh reads them; they are in the state anyway). No object of any other bucket.
 * - deploy: applies a reviewed plan. Trusts only `repo:<owner>/<repo>:environment:<deployEnvironment>`,
 *   so only a job of that GitHub Environment (its reviewers, its branch rules) can assume it. Named actions
 *   on the services the stack manages; KMS keys only those whose key policy names it (the stack's own:
 *   constructs/core/kms-key-policy.ts); S3 only on the stack's own buckets, IAM only on roles that carry the
 *   workload permissions boundary (constructs/core/permissions-boundary.ts): it may create a role only with that
 *   boundary, change only roles that carry it, attach only the stack's own policies and the AWS managed
 *   ones the stack uses, pass roles only to the services that take them, and never write the boundary, the
 *   OIDC provider, or the plan and deploy roles (including itself). So it cannot make itself, or anything,
 *   an administrator.
 * - image push: the model release workflow's pushes to this environment's model repositories (the
 *   ModelEndpoints' push policies, nothing else). Same subject as deploy. It carries the workload boundary.
 *
 * The plan and deploy roles, their policies, the OIDC provider and the boundary are created and changed only
 * by an administrator (`npm run bootstrap -- <env>`, which applies them first): they carry the tag
 * `mlflow-platform/administered-by: bootstrap`, and the deploy role may only read them.
 *
 * `sub` and `aud` are matched with StringEquals, never a wildcard: another repository, another branch,
 * a fork's pull request or another environment gets no credentials.
 */
import { Construct } from "constructs";
import { EksAccessEntry } from "@cdktf/provider-aws/lib/eks-access-entry";
import { EksAccessPolicyAssociation } from "@cdktf/provider-aws/lib/eks-access-policy-association";
import { IamOpenidConnectProvider } from "@cdktf/provider-aws/lib/iam-openid-connect-provider";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { partitionOf } from "../core/aws";
import { PropError } from "../core/prop-error";

/** GitHub Actions' OIDC issuer (host name, as IAM writes it in condition keys). */
export const GITHUB_OIDC_HOST = "token.actions.githubusercontent.com";
/** The audience `aws-actions/configure-aws-credentials` requests. */
export const GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com";

/** Where the Terraform state lives (for the plan and deploy roles' access to it): config/state.ts. */
export interface CiStateAccess {
  /** The state bucket's name (in this account). Required. */
  readonly bucket: string;
  /** The state object's key. Required. */
  readonly key: string;
  /** Key prefix (no trailing "/") under which the plan role stores saved plans for the deploy job. Required. */
  readonly planPrefix: string;
  /** The state bucket's region. Required. */
  readonly region: string;
  /** The KMS key (key or alias ARN) that encrypts the state. Required. */
  readonly kmsKeyArn: string;
  /** The key's alias ("alias/..."), when `kmsKeyArn` is an alias ARN: the grants then name the key by its alias. @default none */
  readonly kmsAlias?: string;
}

/** Names of the three roles. */
export interface CiRoleNameProps {
  /** Read-only plan role (1-64 characters). Required. */
  readonly plan: string;
  /** Deploy role. Required. */
  readonly deploy: string;
  /** Image-push role. Required. */
  readonly imagePush: string;
}

/** Props of {@link CiRoles}. */
export interface CiRolesProps {
  /** The GitHub repository, "owner/name": the only one the roles trust. Required. */
  readonly repository: string;
  /** Create GitHub's OIDC provider in the account, or use the existing one. @default "create" */
  readonly oidcProvider?: "create" | "existing";
  /** The 12-digit account of the environment. Required. */
  readonly accountId: string;
  /** The environment's region (gives the ARN partition). Required. */
  readonly region: string;
  /** The roles' names. Required. */
  readonly roleNames: CiRoleNameProps;
  /** Prefix of the IAM roles and policies, secrets, topics and alarms the stack creates (`<project>-<env>-`): the deploy role may manage only these. Required. */
  readonly resourcePrefix: string;
  /** The GitHub Environment whose jobs may assume the deploy and image-push roles. Required. */
  readonly deployEnvironment: string;
  /** The branch whose pushes and schedules may assume the plan role (drift check, plan of a merge). @default "main" */
  readonly mainBranch?: string;
  /** The Terraform state in S3; without it (local state) the roles get no state access. @default none */
  readonly state?: CiStateAccess;
  /** S3 buckets the stack creates (exact names): the deploy role manages these and no other. @default [] */
  readonly managedBucketNames?: readonly string[];
  /** Of those, the buckets created with force_destroy: only these may the deploy role empty (a destroy deletes every version first). @default [] */
  readonly forceDestroyBucketNames?: readonly string[];
  /** Secrets Manager secrets the stack reads (data sources): the plan role may read their values. @default [] */
  readonly readableSecretArns?: readonly string[];
  /** The EKS cluster: access entries give the plan role a read-only and the deploy role an admin view of it. Required. */
  readonly clusterName: string;
  /** Create the EKS access entries (the cluster's authentication mode must include the API). @default true */
  readonly clusterAccess?: boolean;
  /** Policies the image-push role gets (the ModelEndpoints' push policies). @default [] (the role can push nothing) */
  readonly imagePushPolicyArns?: readonly string[];
  /** Longest session of every role, in seconds (3600-43200). @default 3600 */
  readonly maxSessionSeconds?: number;
  /** The workload permissions boundary (constructs/core/permissions-boundary.ts): its ARN (a token) and its policy name. Required. */
  readonly workloadBoundary: { readonly arn: string; readonly name: string };
  /**
   * The stack's default tags `project` and `environment`: the deploy role tags the keys it creates with them
   * and never re-tags a key carrying other values. (It manages only the keys whose policy names it:
   * constructs/core/kms-key-policy.ts.) Required.
   */
  readonly stackTags: { readonly project: string; readonly environment: string };
  /**
   * Regions the stack creates KMS keys in besides its own (the artifact replica's key): the deploy role tags
   * the keys it creates there too. @default [] (the environment's region only)
   */
  readonly otherKeyRegions?: readonly string[];
  /**
   * Other environments' model repositories (ARNs) the release pipeline copies released images from into this
   * environment's, with the deploy role (config/image-copies.ts): the deploy role may pull exactly these. The
   * source's repository policy must admit it too when the source is another account. @default []
   */
  readonly imageSourceRepositoryArns?: readonly string[];
  /** Prefix of the stack's ECR repository names (`<project>-<env>/`). Required. */
  readonly ecrRepositoryPrefix: string;
  /**
   * DNS records the stack manages in Route 53 (the API domain's alias): the deploy role may change exactly
   * these names in their zone, the plan role read the zone. @default [] (no Route 53 access)
   */
  readonly dnsRecords?: readonly { readonly zoneId: string; readonly names: readonly string[] }[];
  /** AWS managed policies (names after `policy/`) the deploy role may attach to the stack's roles. @default ["service-role/AmazonRDSEnhancedMonitoringRole"] */
  readonly attachableAwsManagedPolicies?: readonly string[];
}

/** The tag that marks what only an administrator creates and changes (the bootstrap), never the deploy role. */
export const ADMINISTERED_BY_TAG = "mlflow-platform/administered-by";
export const ADMINISTERED_BY_BOOTSTRAP = "bootstrap";

/** Services that assume the stack's roles, to which the deploy role may pass them (iam:PassedToService). */
export const PASS_ROLE_SERVICES = ["pods.eks.amazonaws.com", "monitoring.rds.amazonaws.com", "s3.amazonaws.com"] as const;
/** Services whose service-linked role the first deploy in an account may create (iam:AWSServiceName). */
export const SERVICE_LINKED_ROLE_SERVICES = [
  "rds.amazonaws.com",
  "elasticloadbalancing.amazonaws.com",
  "ops.apigateway.amazonaws.com",
] as const;

/**
 * What `terraform plan` reads of everything but S3, IAM names and API Gateway (those are scoped below):
 * the read calls of policies/iam/provider-actions.ts, named. Plan and deploy roles both have them.
 */
export const REFRESH_READ_ACTIONS: readonly string[] = [
  "rds:DescribeDBInstances",
  "rds:DescribeDBParameterGroups",
  "rds:DescribeDBParameters",
  "rds:DescribeDBSubnetGroups",
  "rds:ListTagsForResource",
  "kms:DescribeKey",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:ListResourceTags",
  "kms:ListAliases",
  "ecr:DescribeRepositories",
  "ecr:ListTagsForResource",
  "ecr:GetLifecyclePolicy",
  "ecr:GetRepositoryPolicy",
  "logs:DescribeLogGroups",
  "logs:ListTagsForResource",
  "logs:GetLogDelivery",
  "logs:ListLogDeliveries",
  "logs:DescribeResourcePolicies",
  "cloudwatch:DescribeAlarms",
  "cloudwatch:ListTagsForResource",
  "sns:GetTopicAttributes",
  "sns:ListTagsForResource",
  "sns:GetSubscriptionAttributes",
  "sns:ListSubscriptionsByTopic",
  "secretsmanager:DescribeSecret",
  "secretsmanager:GetResourcePolicy",
  "ec2:DescribeSecurityGroups",
  "ec2:DescribeSecurityGroupRules",
  "ec2:DescribeSubnets",
  "ec2:DescribeNetworkInterfaces",
  "eks:DescribeCluster",
  "eks:DescribeAddon",
  "eks:DescribeAccessEntry",
  "eks:ListAssociatedAccessPolicies",
  "eks:DescribePodIdentityAssociation",
  "elasticloadbalancing:DescribeLoadBalancers",
  "elasticloadbalancing:DescribeLoadBalancerAttributes",
  "elasticloadbalancing:DescribeListeners",
  "elasticloadbalancing:DescribeListenerAttributes",
  "elasticloadbalancing:DescribeRules",
  "elasticloadbalancing:DescribeTargetGroups",
  "elasticloadbalancing:DescribeTargetGroupAttributes",
  "elasticloadbalancing:DescribeTags",
  "iam:GetRole",
  "iam:ListRolePolicies",
  "iam:ListAttachedRolePolicies",
  "iam:GetRolePolicy",
  "iam:ListInstanceProfilesForRole",
  "iam:GetPolicy",
  "iam:GetPolicyVersion",
  "iam:ListPolicyVersions",
  "iam:GetOpenIDConnectProvider",
];

/** What a refresh reads of each of the stack's buckets (aws_s3_bucket and its configuration resources). */
export const BUCKET_READ_ACTIONS: readonly string[] = [
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
  "s3:GetBucketPublicAccessBlock",
  "s3:GetBucketOwnershipControls",
];

/** What the deploy role writes on the stack's buckets (bucket-level calls only: no object but a throw-away bucket's). */
export const BUCKET_WRITE_ACTIONS: readonly string[] = [
  "s3:CreateBucket",
  "s3:DeleteBucket",
  "s3:PutBucketTagging",
  "s3:PutBucketPolicy",
  "s3:DeleteBucketPolicy",
  "s3:PutBucketVersioning",
  "s3:PutEncryptionConfiguration",
  "s3:PutBucketPublicAccessBlock",
  "s3:PutBucketOwnershipControls",
  "s3:PutLifecycleConfiguration",
  "s3:PutBucketLogging",
  "s3:PutReplicationConfiguration",
];

/** API Gateway HTTP API paths the stack's API lives under (IAM authorizes the REST verbs on them). */
const API_PATHS = ["/apis", "/apis/*", "/domainnames", "/domainnames/*", "/vpclinks", "/vpclinks/*", "/tags/*"];

const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const REPOSITORY = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/;

/** The exact OIDC subjects each role trusts. */
export function ciSubjects(
  repository: string,
  deployEnvironment: string,
  mainBranch = "main",
): { plan: string[]; deploy: string[]; imagePush: string[] } {
  return {
    plan: [`repo:${repository}:pull_request`, `repo:${repository}:ref:refs/heads/${mainBranch}`],
    deploy: [`repo:${repository}:environment:${deployEnvironment}`],
    imagePush: [`repo:${repository}:environment:${deployEnvironment}`],
  };
}

/** The trust policy of a role assumed with a GitHub OIDC token carrying one of `subjects`. */
export function githubTrustPolicy(providerArn: string, subjects: readonly string[]): Record<string, unknown> {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "GitHubActionsOidc",
        Effect: "Allow",
        Principal: { Federated: providerArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE,
            [`${GITHUB_OIDC_HOST}:sub`]: [...subjects],
          },
        },
      },
    ],
  };
}

export class CiRoles extends Construct {
  readonly providerArn: string;
  readonly planRole: IamRole;
  readonly deployRole: IamRole;
  readonly imagePushRole: IamRole;

  constructor(scope: Construct, id: string, props: CiRolesProps) {
    super(scope, id);
    if (!REPOSITORY.test(props.repository))
      throw new PropError(this, "repository", props.repository, '"owner/name" of a GitHub repository: your fork\'s');
    for (const [k, v] of Object.entries(props.roleNames))
      if (!ROLE_NAME.test(v))
        throw new PropError(this, `roleNames.${k}`, v, "an IAM role name of at most 64 letters, digits and +=,.@_-: shorten it");
    if (!/^\d{12}$/.test(props.accountId)) throw new PropError(this, "accountId", props.accountId, "a 12-digit account id");
    const maxSession = props.maxSessionSeconds ?? 3600;
    if (!Number.isInteger(maxSession) || maxSession < 3600 || maxSession > 43200)
      throw new PropError(this, "maxSessionSeconds", maxSession, "a whole number of seconds from 3600 to 43200");
    if (props.state && (props.state.planPrefix.startsWith("/") || props.state.planPrefix.endsWith("/") || props.state.planPrefix === "")) {
      throw new PropError(
        this,
        "state.planPrefix",
        props.state?.planPrefix,
        "a key prefix without leading or trailing '/', such as \"ci-plans/dev\"",
      );
    }

    const partition = partitionOf(props.region);
    const iam = (resource: string) => `arn:${partition}:iam::${props.accountId}:${resource}`;
    const regional = (service: string, resource: string) => `arn:${partition}:${service}:${props.region}:${props.accountId}:${resource}`;
    const administered = { [ADMINISTERED_BY_TAG]: ADMINISTERED_BY_BOOTSTRAP };
    if ((props.oidcProvider ?? "create") === "create") {
      const provider = new IamOpenidConnectProvider(this, "github_oidc_provider", {
        url: `https://${GITHUB_OIDC_HOST}`,
        clientIdList: [GITHUB_OIDC_AUDIENCE],
        tags: administered,
      });
      this.providerArn = provider.arn;
    } else {
      this.providerArn = iam(`oidc-provider/${GITHUB_OIDC_HOST}`);
    }
    const subjects = ciSubjects(props.repository, props.deployEnvironment, props.mainBranch);
    const role = (
      cid: string,
      name: string,
      subs: string[],
      description: string,
      extra: { tags?: Record<string, string>; permissionsBoundary?: string },
    ) =>
      new IamRole(this, cid, {
        name,
        description,
        maxSessionDuration: maxSession,
        assumeRolePolicy: JSON.stringify(githubTrustPolicy(this.providerArn, subs)),
        ...extra,
      });
    this.planRole = role(
      "plan_role",
      props.roleNames.plan,
      subjects.plan,
      `Read-only Terraform plan and drift check from ${props.repository}`,
      { tags: administered },
    );
    this.deployRole = role(
      "deploy_role",
      props.roleNames.deploy,
      subjects.deploy,
      `Terraform apply from ${props.repository}, GitHub Environment ${props.deployEnvironment}`,
      { tags: administered },
    );
    this.imagePushRole = role(
      "image_push_role",
      props.roleNames.imagePush,
      subjects.imagePush,
      `Model image pushes from ${props.repository}, GitHub Environment ${props.deployEnvironment}`,
      {
        // The deploy role attaches each model's push policy to it: it carries the workload boundary like every role the deploy role may change.
        permissionsBoundary: props.workloadBoundary.arn,
      },
    );

    const buckets = [...new Set(props.managedBucketNames ?? [])].map((b) => `arn:${partition}:s3:::${b}`);
    const throwAway = [...new Set(props.forceDestroyBucketNames ?? [])].map((b) => `arn:${partition}:s3:::${b}`);
    const apiArns = API_PATHS.map((p) => `arn:${partition}:apigateway:${props.region}::${p}`);
    const dnsZones = [...new Set((props.dnsRecords ?? []).map((r) => `arn:${partition}:route53:::hostedzone/${r.zoneId}`))];
    // Route 53 compares the record names it is asked to change in lower case, without the trailing dot
    // (condition key route53:ChangeResourceRecordSetsNormalizedRecordNames).
    const dnsNames = [...new Set((props.dnsRecords ?? []).flatMap((r) => r.names.map((n) => n.toLowerCase().replace(/\.$/, ""))))];
    const readStatements = [
      { Sid: "ReadForRefresh", Effect: "Allow", Action: REFRESH_READ_ACTIONS, Resource: "*" },
      { Sid: "ReadHttpApis", Effect: "Allow", Action: ["apigateway:GET"], Resource: apiArns },
      ...(dnsZones.length > 0
        ? [
            {
              Sid: "ReadDnsZones",
              Effect: "Allow",
              Action: ["route53:GetHostedZone", "route53:ListResourceRecordSets"],
              Resource: dnsZones,
            },
            { Sid: "ReadDnsChanges", Effect: "Allow", Action: ["route53:GetChange"], Resource: `arn:${partition}:route53:::change/*` },
          ]
        : []),
      ...(buckets.length > 0 ? [{ Sid: "ReadStackBuckets", Effect: "Allow", Action: BUCKET_READ_ACTIONS, Resource: buckets }] : []),
    ];
    const secretStatements = [
      {
        Sid: "ReadSecretsTheStackReadsOrManages",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: [...new Set([...(props.readableSecretArns ?? []), regional("secretsmanager", `secret:${props.resourcePrefix}*`)])],
      },
      {
        Sid: "DecryptThoseSecrets",
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: regional("kms", "key/*"),
        Condition: { StringEquals: { "kms:ViaService": `secretsmanager.${props.region}.amazonaws.com` } },
      },
    ];
    // The state: its object (and lock file), the plan files, and its key through S3 only.
    const st = props.state;
    const stateBucket = st ? `arn:${partition}:s3:::${st.bucket}` : undefined;
    const stateKey = (actions: string[]) =>
      st
        ? [
            {
              Sid: "StateKeyThroughS3",
              Effect: "Allow",
              Action: actions,
              Resource: st.kmsAlias ? `arn:${partition}:kms:${st.region}:${props.accountId}:key/*` : st.kmsKeyArn,
              Condition: {
                StringEquals: { "kms:ViaService": `s3.${st.region}.amazonaws.com` },
                ...(st.kmsAlias ? { "ForAnyValue:StringEquals": { "kms:ResourceAliases": [st.kmsAlias] } } : {}),
              },
            },
          ]
        : [];

    // ── plan: named reads, the state, its saved plan files ──
    new IamRolePolicy(this, "plan_policy", {
      role: this.planRole.id,
      name: "plan",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          ...readStatements,
          ...secretStatements,
          ...(st
            ? [
                { Sid: "StateBucket", Effect: "Allow", Action: ["s3:ListBucket"], Resource: stateBucket },
                { Sid: "ReadState", Effect: "Allow", Action: ["s3:GetObject"], Resource: `${stateBucket}/${st.key}` },
                { Sid: "SavePlanFiles", Effect: "Allow", Action: ["s3:PutObject"], Resource: `${stateBucket}/${st.planPrefix}/*` },
              ]
            : []),
          // No object of any bucket but the state (a plan role must not read artifacts, even if a statement above grew).
          {
            Sid: "NoObjectReadsButTheState",
            Effect: "Deny",
            Action: ["s3:GetObject", "s3:GetObjectVersion"],
            NotResource: st ? [`${stateBucket}/${st.key}`] : [`arn:${partition}:s3:::none/none`],
          },
          ...stateKey(["kms:Decrypt", "kms:GenerateDataKey"]),
        ],
      }),
    });

    // ── deploy: named actions on the stack's services; S3, IAM, KMS keys on the stack's own ──
    const boundaryArn = iam(`policy/${props.workloadBoundary.name}`);
    const ownRoles = iam(`role/${props.resourcePrefix}*`);
    const administeredRoles = [props.roleNames.plan, props.roleNames.deploy].map((n) => iam(`role/${n}`));
    const withBoundary = { StringEquals: { "iam:PermissionsBoundary": boundaryArn } };
    const attachable = [
      iam(`policy/${props.resourcePrefix}*`),
      ...(props.attachableAwsManagedPolicies ?? ["service-role/AmazonRDSEnhancedMonitoringRole"]).map(
        (n) => `arn:${partition}:iam::aws:policy/${n}`,
      ),
    ];
    const cluster = (resource: string) => regional("eks", `${resource}/${props.clusterName}`);
    // Keys in the environment's region and in any other the stack creates keys in (one ARN: unchanged policies without replication).
    const otherKeyRegions = [...new Set(props.otherKeyRegions ?? [])].filter((r) => r !== props.region);
    const keyRegionArns =
      otherKeyRegions.length === 0
        ? regional("kms", "key/*")
        : [props.region, ...otherKeyRegions].map((r) => `arn:${partition}:kms:${r}:${props.accountId}:key/*`);
    const ecrRepos = regional("ecr", `repository/${props.ecrRepositoryPrefix}*`);
    const sources = [...new Set(props.imageSourceRepositoryArns ?? [])].sort();
    for (const arn of sources)
      if (!/^arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository\/.+$/.test(arn))
        throw new PropError(this, "imageSourceRepositoryArns", arn, "ECR repository ARNs");
    new IamRolePolicy(this, "deploy_policy", {
      role: this.deployRole.id,
      name: "deploy",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          ...readStatements,
          ...secretStatements,
          // ── S3: the stack's buckets, bucket-level; objects only of throw-away buckets, to empty them on destroy ──
          ...(buckets.length > 0 ? [{ Sid: "ManageStackBuckets", Effect: "Allow", Action: BUCKET_WRITE_ACTIONS, Resource: buckets }] : []),
          ...(throwAway.length > 0
            ? [
                { Sid: "ListThrowAwayBucketVersions", Effect: "Allow", Action: ["s3:ListBucketVersions"], Resource: throwAway },
                {
                  Sid: "EmptyThrowAwayBuckets",
                  Effect: "Allow",
                  Action: ["s3:DeleteObject", "s3:DeleteObjectVersion"],
                  Resource: throwAway.map((b) => `${b}/*`),
                },
              ]
            : []),
          ...(st
            ? [
                { Sid: "StateBucket", Effect: "Allow", Action: ["s3:ListBucket"], Resource: stateBucket },
                {
                  Sid: "StateAndLockObjects",
                  Effect: "Allow",
                  Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                  Resource: [`${stateBucket}/${st.key}`, `${stateBucket}/${st.key}.tflock`],
                },
                { Sid: "ReviewedPlanFiles", Effect: "Allow", Action: ["s3:GetObject"], Resource: `${stateBucket}/${st.planPrefix}/*` },
              ]
            : []),
          ...stateKey(["kms:Decrypt", "kms:GenerateDataKey"]),
          // ── RDS (CreateDBInstance is authorized on its option and parameter groups, subnet group and security groups too) ──
          {
            Sid: "ManageDatabase",
            Effect: "Allow",
            Action: [
              "rds:CreateDBInstance",
              "rds:CreateDBInstanceReadReplica",
              "rds:ModifyDBInstance",
              "rds:DeleteDBInstance",
              "rds:CreateDBSnapshot",
              "rds:AddTagsToResource",
              "rds:RemoveTagsFromResource",
              "rds:CreateDBParameterGroup",
              "rds:ModifyDBParameterGroup",
              "rds:ResetDBParameterGroup",
              "rds:DeleteDBParameterGroup",
              "rds:CreateDBSubnetGroup",
              "rds:ModifyDBSubnetGroup",
              "rds:DeleteDBSubnetGroup",
            ],
            Resource: "*",
          },
          // ── KMS: new keys, tagged with this stack's project and environment. What the role may do to a key
          // afterwards is in that key's policy (constructs/core/kms-key-policy.ts), which names it on the keys the stack
          // creates: tagging is allowed on any key (CreateKey's tags are a TagResource on a key without tags, which
          // no condition tells from someone else's untagged key), so tags must not be what grants control ──
          { Sid: "CreateKeys", Effect: "Allow", Action: ["kms:CreateKey"], Resource: "*" },
          {
            Sid: "TagStackKeys",
            Effect: "Allow",
            Action: ["kms:TagResource"],
            Resource: keyRegionArns,
            Condition: {
              StringEquals: {
                "aws:RequestTag/project": props.stackTags.project,
                "aws:RequestTag/environment": props.stackTags.environment,
              },
            },
          },
          // A key already tagged for another project or environment (another stack's) is never re-tagged into this one's.
          ...(["project", "environment"] as const).map((tag) => ({
            Sid: `NeverRetagAnotherStacksKeys${tag === "project" ? "Project" : "Environment"}`,
            Effect: "Deny",
            Action: ["kms:TagResource"],
            Resource: keyRegionArns,
            Condition: {
              Null: { [`aws:ResourceTag/${tag}`]: "false" },
              StringNotEquals: { [`aws:ResourceTag/${tag}`]: props.stackTags[tag] },
            },
          })),
          {
            Sid: "StackKeyAliases",
            Effect: "Allow",
            Action: ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"],
            Resource: regional("kms", `alias/${props.resourcePrefix}*`),
          },
          {
            // RDS and ECR create grants on the keys they encrypt with; ECR and Secrets Manager encrypt with the caller's permissions.
            Sid: "KeysThroughServices",
            Effect: "Allow",
            Action: ["kms:CreateGrant", "kms:RetireGrant", "kms:GenerateDataKey", "kms:Decrypt"],
            Resource: regional("kms", "key/*"),
            Condition: {
              StringEquals: { "kms:ViaService": ["rds", "ecr", "secretsmanager"].map((svc) => `${svc}.${props.region}.amazonaws.com`) },
            },
          },
          // ── Logs, alarms, topics, secrets: the stack's names ──
          {
            Sid: "ManageLogGroups",
            Effect: "Allow",
            Action: [
              "logs:CreateLogGroup",
              "logs:DeleteLogGroup",
              "logs:PutRetentionPolicy",
              "logs:DeleteRetentionPolicy",
              "logs:AssociateKmsKey",
              "logs:DisassociateKmsKey",
              "logs:TagResource",
              "logs:UntagResource",
            ],
            Resource: regional("logs", "log-group:*"),
          },
          {
            // An HTTP API stage's access logs are vended logs: the caller sets up their delivery (no resource-level permission).
            Sid: "AccessLogDelivery",
            Effect: "Allow",
            Action: ["logs:CreateLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:PutResourcePolicy"],
            Resource: "*",
          },
          {
            Sid: "ManageAlarms",
            Effect: "Allow",
            Action: ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource", "cloudwatch:UntagResource"],
            Resource: regional("cloudwatch", `alarm:${props.resourcePrefix}*`),
          },
          {
            Sid: "ManageTopics",
            Effect: "Allow",
            Action: [
              "sns:CreateTopic",
              "sns:DeleteTopic",
              "sns:SetTopicAttributes",
              "sns:TagResource",
              "sns:UntagResource",
              "sns:Subscribe",
            ],
            Resource: regional("sns", `${props.resourcePrefix}*`),
          },
          { Sid: "ManageSubscriptions", Effect: "Allow", Action: ["sns:SetSubscriptionAttributes", "sns:Unsubscribe"], Resource: "*" },
          {
            Sid: "ManageSecrets",
            Effect: "Allow",
            Action: [
              "secretsmanager:CreateSecret",
              "secretsmanager:UpdateSecret",
              "secretsmanager:DeleteSecret",
              "secretsmanager:TagResource",
              "secretsmanager:UntagResource",
              "secretsmanager:PutResourcePolicy",
              "secretsmanager:DeleteResourcePolicy",
              "secretsmanager:PutSecretValue",
              "secretsmanager:UpdateSecretVersionStage",
            ],
            Resource: regional("secretsmanager", `secret:${props.resourcePrefix}*`),
          },
          // ── Security groups (and the network interfaces an internal load balancer leaves behind) ──
          {
            Sid: "ManageSecurityGroups",
            Effect: "Allow",
            Action: [
              "ec2:CreateSecurityGroup",
              "ec2:DeleteSecurityGroup",
              "ec2:AuthorizeSecurityGroupIngress",
              "ec2:AuthorizeSecurityGroupEgress",
              "ec2:RevokeSecurityGroupIngress",
              "ec2:RevokeSecurityGroupEgress",
              "ec2:ModifySecurityGroupRules",
              "ec2:CreateTags",
              "ec2:DeleteTags",
              "ec2:DetachNetworkInterface",
              "ec2:DeleteNetworkInterface",
            ],
            Resource: "*",
          },
          // ── ECR: the stack's repositories; the release job copies a released image into them ──
          {
            Sid: "ManageRepositories",
            Effect: "Allow",
            Action: [
              "ecr:CreateRepository",
              "ecr:DeleteRepository",
              "ecr:PutImageScanningConfiguration",
              "ecr:PutImageTagMutability",
              "ecr:TagResource",
              "ecr:UntagResource",
              "ecr:PutLifecyclePolicy",
              "ecr:DeleteLifecyclePolicy",
              "ecr:BatchCheckLayerAvailability",
              "ecr:InitiateLayerUpload",
              "ecr:UploadLayerPart",
              "ecr:CompleteLayerUpload",
              "ecr:PutImage",
              "ecr:BatchGetImage",
              "ecr:GetDownloadUrlForLayer",
              // The release job checks that a copied image kept its digest.
              "ecr:DescribeImages",
              // A repository others copy released images from carries a policy admitting them (config/image-copies.ts).
              "ecr:SetRepositoryPolicy",
              "ecr:DeleteRepositoryPolicy",
            ],
            Resource: ecrRepos,
          },
          // The release job's copy reads the released image from the repository it was pushed to (another environment's).
          ...(sources.length > 0
            ? [
                {
                  Sid: "PullReleasedImagesFromTheirSource",
                  Effect: "Allow",
                  Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                  Resource: sources,
                },
              ]
            : []),
          { Sid: "EcrLogin", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
          // ── Route 53: the stack's own records, by name, in their zones ──
          ...(dnsZones.length > 0
            ? [
                {
                  Sid: "ManageDnsRecords",
                  Effect: "Allow",
                  Action: ["route53:ChangeResourceRecordSets"],
                  Resource: dnsZones,
                  Condition: { "ForAllValues:StringEquals": { "route53:ChangeResourceRecordSetsNormalizedRecordNames": dnsNames } },
                },
              ]
            : []),
          // ── EKS: access entries and pod identity associations on this cluster ──
          {
            Sid: "ManageClusterAccess",
            Effect: "Allow",
            Action: [
              "eks:CreateAccessEntry",
              "eks:UpdateAccessEntry",
              "eks:DeleteAccessEntry",
              "eks:AssociateAccessPolicy",
              "eks:DisassociateAccessPolicy",
              "eks:CreatePodIdentityAssociation",
              "eks:UpdatePodIdentityAssociation",
              "eks:DeletePodIdentityAssociation",
              "eks:TagResource",
              "eks:UntagResource",
            ],
            Resource: [cluster("cluster"), `${cluster("access-entry")}/*`, `${cluster("podidentityassociation")}/*`],
          },
          // ── API Gateway (HTTP APIs) and the internal load balancer behind its VPC link ──
          {
            Sid: "ManageHttpApis",
            Effect: "Allow",
            Action: ["apigateway:POST", "apigateway:PATCH", "apigateway:DELETE"],
            Resource: apiArns,
          },
          {
            Sid: "ManageLoadBalancers",
            Effect: "Allow",
            Action: [
              "elasticloadbalancing:CreateLoadBalancer",
              "elasticloadbalancing:DeleteLoadBalancer",
              "elasticloadbalancing:ModifyLoadBalancerAttributes",
              "elasticloadbalancing:SetSecurityGroups",
              "elasticloadbalancing:SetSubnets",
              "elasticloadbalancing:SetIpAddressType",
              "elasticloadbalancing:CreateListener",
              "elasticloadbalancing:DeleteListener",
              "elasticloadbalancing:ModifyListener",
              "elasticloadbalancing:ModifyListenerAttributes",
              "elasticloadbalancing:CreateRule",
              "elasticloadbalancing:DeleteRule",
              "elasticloadbalancing:ModifyRule",
              "elasticloadbalancing:SetRulePriorities",
              "elasticloadbalancing:CreateTargetGroup",
              "elasticloadbalancing:DeleteTargetGroup",
              "elasticloadbalancing:ModifyTargetGroup",
              "elasticloadbalancing:ModifyTargetGroupAttributes",
              "elasticloadbalancing:AddTags",
              "elasticloadbalancing:RemoveTags",
            ],
            Resource: "*",
          },
          // ── IAM: roles only with the workload boundary; never the boundary, the OIDC provider, the plan or deploy role ──
          {
            Sid: "BoundedRoles",
            Effect: "Allow",
            Action: [
              "iam:CreateRole",
              "iam:PutRolePermissionsBoundary",
              "iam:PutRolePolicy",
              "iam:DeleteRolePolicy",
              "iam:DetachRolePolicy",
            ],
            Resource: ownRoles,
            Condition: withBoundary,
          },
          {
            Sid: "AttachOnlyStackPolicies",
            Effect: "Allow",
            Action: ["iam:AttachRolePolicy"],
            Resource: ownRoles,
            Condition: { ...withBoundary, ArnLike: { "iam:PolicyARN": attachable } },
          },
          {
            // These calls carry no boundary condition key: the Deny below keeps them off the administered roles.
            Sid: "ChangeStackRoles",
            Effect: "Allow",
            Action: [
              "iam:UpdateRole",
              "iam:UpdateRoleDescription",
              "iam:UpdateAssumeRolePolicy",
              "iam:TagRole",
              "iam:UntagRole",
              "iam:DeleteRole",
            ],
            Resource: ownRoles,
          },
          {
            Sid: "PassStackRolesToTheirServices",
            Effect: "Allow",
            Action: ["iam:PassRole"],
            Resource: ownRoles,
            Condition: { StringEquals: { "iam:PassedToService": [...PASS_ROLE_SERVICES] } },
          },
          {
            Sid: "StackPolicies",
            Effect: "Allow",
            Action: [
              "iam:CreatePolicy",
              "iam:DeletePolicy",
              "iam:CreatePolicyVersion",
              "iam:DeletePolicyVersion",
              "iam:TagPolicy",
              "iam:UntagPolicy",
            ],
            Resource: iam(`policy/${props.resourcePrefix}*`),
          },
          {
            Sid: "ServiceLinkedRoles",
            Effect: "Allow",
            Action: ["iam:CreateServiceLinkedRole"],
            Resource: iam("role/aws-service-role/*"),
            Condition: { StringEquals: { "iam:AWSServiceName": [...SERVICE_LINKED_ROLE_SERVICES] } },
          },
          { Sid: "NeverTheAdministeredRoles", Effect: "Deny", NotAction: ["iam:Get*", "iam:List*"], Resource: administeredRoles },
          {
            Sid: "NeverTheBoundaryOrTheOidcProvider",
            Effect: "Deny",
            NotAction: ["iam:Get*", "iam:List*"],
            Resource: [boundaryArn, iam(`oidc-provider/${GITHUB_OIDC_HOST}`)],
          },
          { Sid: "NeverRemoveABoundary", Effect: "Deny", Action: ["iam:DeleteRolePermissionsBoundary"], Resource: "*" },
          {
            // The state key (the bootstrap's): tagging it into the stack's scope must not make it the deploy role's to manage.
            Sid: "NeverTheAdministeredKeys",
            Effect: "Deny",
            Action: [
              "kms:TagResource",
              "kms:UntagResource",
              "kms:PutKeyPolicy",
              "kms:ScheduleKeyDeletion",
              "kms:DisableKey",
              "kms:DisableKeyRotation",
              "kms:CreateAlias",
              "kms:UpdateAlias",
              "kms:DeleteAlias",
              "kms:CreateGrant",
            ],
            Resource: regional("kms", "key/*"),
            Condition: { StringEquals: { [`aws:ResourceTag/${ADMINISTERED_BY_TAG}`]: ADMINISTERED_BY_BOOTSTRAP } },
          },
        ],
      }),
    });

    // ── image push: the ModelEndpoints' push policies only ──
    (props.imagePushPolicyArns ?? []).forEach((policyArn, i) => {
      new IamRolePolicyAttachment(this, `image_push_${i}`, { role: this.imagePushRole.name, policyArn });
    });

    // ── the cluster: plan reads everything (a refresh reads Secrets too), deploy administers ──
    if (props.clusterAccess ?? true) {
      const access = (cid: string, r: IamRole, policy: string) => {
        const entry = new EksAccessEntry(this, `${cid}_access`, { clusterName: props.clusterName, principalArn: r.arn, type: "STANDARD" });
        new EksAccessPolicyAssociation(this, `${cid}_access_policy`, {
          clusterName: props.clusterName,
          principalArn: r.arn,
          policyArn: `arn:${partition}:eks::aws:cluster-access-policy/${policy}`,
          accessScope: { type: "cluster" },
          dependsOn: [entry],
        });
      };
      access("plan", this.planRole, "AmazonEKSAdminViewPolicy");
      access("deploy", this.deployRole, "AmazonEKSClusterAdminPolicy");
    }
  }
}
