/**
 * AWS access for GitHub Actions without stored keys: GitHub's OIDC provider in the account
 * (`token.actions.githubusercontent.com`, audience `sts.amazonaws.com`) and the three roles the
 * pipelines assume with `sts:AssumeRoleWithWebIdentity` (docs/ci-cd.md):
 *
 * - plan (read-only): pull-request plans and the scheduled drift check. Trusts exactly
 *   `repo:<owner>/<repo>:pull_request` and `repo:<owner>/<repo>:ref:refs/heads/main`. AWS's
 *   ReadOnlyAccess (what `terraform plan` refreshes) with object reads denied outside the state object, the values of the Secrets Manager secrets the
 *   stack reads or manages (a refresh reads them; they are in the state anyway), and writing saved plan
 *   files under `<planPrefix>` of the state bucket (the deploy job applies exactly that file).
 * - deploy: applies a reviewed plan. Trusts only `repo:<owner>/<repo>:environment:<deployEnvironment>`,
 *   so only a job of that GitHub Environment (its reviewers, its branch rules) can assume it. The
 *   services the stack manages (RDS, KMS, ECR, EKS access and Pod Identity, logs, alarms, SNS, Secrets
 *   Manager, security groups), S3 only on the stack's own buckets with named actions, IAM only on the
 *   stack's own role and policy names: no AWS-managed broad policy (policies/no-s3-wildcards refuses them).
 * - image push: the model release workflow's pushes to this environment's model repositories (the
 *   ModelEndpoints' push policies, nothing else). Same subject as deploy.
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
import { partitionOf } from "../aws";

/** What the deploy role may do on the stack's own buckets (what Terraform's aws_s3_bucket_* resources call). */
export const DEPLOY_BUCKET_ACTIONS = [
  "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucketLocation",
  "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicyStatus",
  "s3:GetBucketVersioning", "s3:PutBucketVersioning", "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
  "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock",
  "s3:GetBucketOwnershipControls", "s3:PutBucketOwnershipControls", "s3:GetBucketLogging", "s3:PutBucketLogging",
  "s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration", "s3:GetBucketTagging", "s3:PutBucketTagging",
  "s3:GetBucketAcl", "s3:GetBucketCORS", "s3:GetBucketWebsite", "s3:GetAccelerateConfiguration", "s3:GetBucketRequestPayment",
  "s3:GetBucketObjectLockConfiguration", "s3:GetBucketNotification", "s3:PutBucketNotification",
];

/**
 * What `terraform destroy` of a bucket with force_destroy calls before DeleteBucket: ListObjectVersions
 * (IAM action s3:ListBucketVersions) and DeleteObjects/DeleteObject with version ids
 * (s3:DeleteObjectVersion), for every version and delete marker (terraform-provider-aws
 * internal/service/s3/delete.go, emptyBucket).
 */
export const FORCE_DESTROY_BUCKET_ACTIONS = ["s3:ListBucketVersions", "s3:DeleteObjectVersion"];

/** GitHub Actions' OIDC issuer (host name, as IAM writes it in condition keys). */
export const GITHUB_OIDC_HOST = "token.actions.githubusercontent.com";
/** The audience `aws-actions/configure-aws-credentials` requests. */
export const GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com";

/** Where the Terraform state lives (for the plan and deploy roles' access to it). */
export interface CiStateAccess {
  /** The state bucket's name. Required. */
  readonly bucket: string;
  /** The state object's key. Required. */
  readonly key: string;
  /** Key prefix (no trailing "/") under which the plan role stores saved plans for the deploy job. Required. */
  readonly planPrefix: string;
  /** KMS key that encrypts the state (SSE-KMS), if any. @default the bucket's default encryption */
  readonly kmsKeyArn?: string;
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
  /** Prefix of the IAM roles and policies the stack creates (`<project>-<env>-`): the deploy role may manage only these. Required. */
  readonly resourcePrefix: string;
  /** The GitHub Environment whose jobs may assume the deploy and image-push roles. Required. */
  readonly deployEnvironment: string;
  /** The branch whose pushes and schedules may assume the plan role (drift check, plan of a merge). @default "main" */
  readonly mainBranch?: string;
  /** The Terraform state in S3; without it (local state) the roles get no state access. @default none */
  readonly state?: CiStateAccess;
  /** S3 buckets the stack creates (exact names): the deploy role manages these and no other. @default [] */
  readonly managedBucketNames?: readonly string[];
  /**
   * Those of them with `force_destroy`: the deploy role may empty them (every object version and delete
   * marker: the provider lists versions and deletes each by version id before DeleteBucket). @default []
   */
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
}

const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const REPOSITORY = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/;

/** The exact OIDC subjects each role trusts. */
export function ciSubjects(repository: string, deployEnvironment: string, mainBranch = "main"): { plan: string[]; deploy: string[]; imagePush: string[] } {
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
    Statement: [{
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
    }],
  };
}

export class CiRoles extends Construct {
  readonly providerArn: string;
  readonly planRole: IamRole;
  readonly deployRole: IamRole;
  readonly imagePushRole: IamRole;

  constructor(scope: Construct, id: string, props: CiRolesProps) {
    super(scope, id);
    const fail = (field: string, expected: string) => {
      throw new Error(`CiRoles: ${field} must be ${expected}`);
    };
    if (!REPOSITORY.test(props.repository)) fail("repository", `"owner/name" of a GitHub repository (got "${props.repository}"); set ci.repository to your fork's`);
    for (const [k, v] of Object.entries(props.roleNames)) if (!ROLE_NAME.test(v)) fail(`roleNames.${k}`, `an IAM role name of at most 64 letters, digits and +=,.@_- (got "${v}"); shorten ci.${k}RoleName or the environment's name`);
    if (!/^\d{12}$/.test(props.accountId)) fail("accountId", "a 12-digit account id");
    const maxSession = props.maxSessionSeconds ?? 3600;
    if (!Number.isInteger(maxSession) || maxSession < 3600 || maxSession > 43200) fail("maxSessionSeconds", "a whole number of seconds from 3600 to 43200");
    if (props.state && (props.state.planPrefix.startsWith("/") || props.state.planPrefix.endsWith("/") || props.state.planPrefix === "")) {
      fail("state.planPrefix", "a key prefix without leading or trailing '/', such as \"ci-plans/dev\"");
    }

    const partition = partitionOf(props.region);
    const iam = (resource: string) => `arn:${partition}:iam::${props.accountId}:${resource}`;
    if ((props.oidcProvider ?? "create") === "create") {
      const provider = new IamOpenidConnectProvider(this, "github_oidc_provider", {
        url: `https://${GITHUB_OIDC_HOST}`,
        clientIdList: [GITHUB_OIDC_AUDIENCE],
      });
      this.providerArn = provider.arn;
    } else {
      this.providerArn = iam(`oidc-provider/${GITHUB_OIDC_HOST}`);
    }
    const subjects = ciSubjects(props.repository, props.deployEnvironment, props.mainBranch);
    const role = (cid: string, name: string, subs: string[], description: string) => new IamRole(this, cid, {
      name,
      description,
      maxSessionDuration: maxSession,
      assumeRolePolicy: JSON.stringify(githubTrustPolicy(this.providerArn, subs)),
    });
    this.planRole = role("plan_role", props.roleNames.plan, subjects.plan, `Read-only Terraform plan and drift check from ${props.repository}`);
    this.deployRole = role("deploy_role", props.roleNames.deploy, subjects.deploy, `Terraform apply from ${props.repository}, GitHub Environment ${props.deployEnvironment}`);
    this.imagePushRole = role("image_push_role", props.roleNames.imagePush, subjects.imagePush, `Model image pushes from ${props.repository}, GitHub Environment ${props.deployEnvironment}`);

    // ── plan: read-only, plus its saved plan files ──
    new IamRolePolicyAttachment(this, "plan_read_only", { role: this.planRole.name, policyArn: `arn:${partition}:iam::aws:policy/ReadOnlyAccess` });
    const secretStatements = [
      {
        Sid: "ReadSecretsTheStackReadsOrManages",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: [...new Set([...(props.readableSecretArns ?? []), `arn:${partition}:secretsmanager:${props.region}:${props.accountId}:secret:${props.resourcePrefix}*`])],
      },
      {
        Sid: "DecryptThoseSecrets",
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: `arn:${partition}:kms:${props.region}:${props.accountId}:key/*`,
        Condition: { StringEquals: { "kms:ViaService": `secretsmanager.${props.region}.amazonaws.com` } },
      },
    ];
    const stateKms = props.state?.kmsKeyArn ? [{ Sid: "StateKey", Effect: "Allow", Action: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], Resource: props.state.kmsKeyArn }] : [];
    const planFiles = props.state ? `arn:${partition}:s3:::${props.state.bucket}/${props.state.planPrefix}/*` : undefined;
    new IamRolePolicy(this, "plan_policy", {
      role: this.planRole.id,
      name: "plan",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          ...secretStatements,
          ...(planFiles ? [{ Sid: "SavePlanFiles", Effect: "Allow", Action: ["s3:PutObject"], Resource: planFiles }] : []),
          // ReadOnlyAccess reads every object in the account (artifacts included): only the state's.
          {
            Sid: "NoObjectReadsButTheState",
            Effect: "Deny",
            Action: ["s3:GetObject", "s3:GetObjectVersion"],
            NotResource: props.state ? [`arn:${partition}:s3:::${props.state.bucket}/${props.state.key}`] : [`arn:${partition}:s3:::none/none`],
          },
          ...stateKms,
        ],
      }),
    });

    // ── deploy: the stack's services; S3 and IAM on the stack's own names only ──
    const buckets = [...new Set(props.managedBucketNames ?? [])];
    const ownRoles = [iam(`role/${props.resourcePrefix}*`), ...Object.values(props.roleNames).map((n) => iam(`role/${n}`))];
    new IamRolePolicy(this, "deploy_policy", {
      role: this.deployRole.id,
      name: "deploy-iam",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "StackServices",
            Effect: "Allow",
            Action: [
              "rds:*", "kms:*", "ecr:*", "logs:*", "cloudwatch:*", "sns:*", "secretsmanager:*",
              "ec2:Describe*", "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress",
              "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:ModifySecurityGroupRules", "ec2:CreateTags", "ec2:DeleteTags",
              "eks:Describe*", "eks:List*", "eks:CreateAccessEntry", "eks:UpdateAccessEntry", "eks:DeleteAccessEntry", "eks:AssociateAccessPolicy", "eks:DisassociateAccessPolicy",
              "eks:CreatePodIdentityAssociation", "eks:UpdatePodIdentityAssociation", "eks:DeletePodIdentityAssociation", "eks:TagResource", "eks:UntagResource",
              "acm:DescribeCertificate", "sts:GetCallerIdentity",
            ],
            Resource: "*",
          },
          ...(buckets.length > 0 ? [{
            Sid: "StackBuckets",
            Effect: "Allow",
            Action: DEPLOY_BUCKET_ACTIONS,
            Resource: buckets.map((b) => `arn:${partition}:s3:::${b}`),
          }] : []),
          ...((props.forceDestroyBucketNames ?? []).length > 0 ? [{
            Sid: "EmptyForceDestroyBuckets",
            Effect: "Allow",
            Action: FORCE_DESTROY_BUCKET_ACTIONS,
            Resource: (props.forceDestroyBucketNames ?? []).flatMap((b) => [`arn:${partition}:s3:::${b}`, `arn:${partition}:s3:::${b}/*`]),
          }] : []),
          ...(props.state ? [
            { Sid: "StateBucket", Effect: "Allow", Action: ["s3:ListBucket", "s3:GetBucketLocation"], Resource: `arn:${partition}:s3:::${props.state.bucket}` },
            {
              Sid: "StateAndLockObjects",
              Effect: "Allow",
              Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
              Resource: [`arn:${partition}:s3:::${props.state.bucket}/${props.state.key}`, `arn:${partition}:s3:::${props.state.bucket}/${props.state.key}.tflock`],
            },
            { Sid: "ReviewedPlanFiles", Effect: "Allow", Action: ["s3:GetObject"], Resource: `arn:${partition}:s3:::${props.state.bucket}/${props.state.planPrefix}/*` },
          ] : []),
          {
            Sid: "OwnRolesAndPolicies",
            Effect: "Allow",
            Action: [
              "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy",
              "iam:TagRole", "iam:UntagRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
              "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PassRole",
            ],
            Resource: [...new Set(ownRoles)],
          },
          {
            Sid: "OwnManagedPolicies",
            Effect: "Allow",
            Action: ["iam:CreatePolicy", "iam:DeletePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicyVersion", "iam:TagPolicy", "iam:UntagPolicy"],
            Resource: iam(`policy/${props.resourcePrefix}*`),
          },
          {
            Sid: "GitHubOidcProvider",
            Effect: "Allow",
            Action: ["iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint", "iam:AddClientIDToOpenIDConnectProvider", "iam:TagOpenIDConnectProvider", "iam:UntagOpenIDConnectProvider"],
            Resource: iam(`oidc-provider/${GITHUB_OIDC_HOST}`),
          },
          { Sid: "ReadIamForRefresh", Effect: "Allow", Action: ["iam:Get*", "iam:List*"], Resource: "*" },
          { Sid: "ServiceLinkedRoles", Effect: "Allow", Action: ["iam:CreateServiceLinkedRole"], Resource: iam("role/aws-service-role/*") },
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
