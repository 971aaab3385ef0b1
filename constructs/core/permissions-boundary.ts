/**
 * The permissions boundary of the roles the stack creates for its workloads (tracking server, jobs, model
 * servers, Grafana, the load balancer controller, RDS monitoring, S3 replication, the image-push role): the
 * most any of them may ever do, whatever policy is put on them. The deploy role may create and change only
 * roles that carry this boundary (constructs/ci-roles), and may not change the boundary itself, so it cannot
 * make any role, itself included, more powerful than this.
 *
 * What it allows: the platform's own buckets (named S3 actions, nothing else in S3), using KMS keys through
 * the services, pushing and pulling model images, reading CloudWatch metrics, RDS enhanced monitoring's log
 * writes, and what the AWS Load Balancer Controller's published policy needs. No IAM write but the load
 * balancer's service-linked role, no STS, no Secrets Manager, no account or organization call.
 * (AWS: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html)
 */
import { PropError } from "./prop-error";
import { Construct } from "constructs";
import { IamPolicy } from "@cdktf/provider-aws/lib/iam-policy";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { partitionOf } from "./aws";
import loadBalancerControllerPolicy from "./load-balancer-controller-iam-policy.json";
import { ADMINISTERED_BY_BOOTSTRAP, ADMINISTERED_BY_TAG } from "../ci-roles";

/** S3 actions a workload role may have, on the platform's buckets only. */
export const WORKLOAD_S3_ACTIONS: readonly string[] = [
  "s3:GetObject",
  "s3:PutObject",
  "s3:DeleteObject",
  "s3:AbortMultipartUpload",
  "s3:ListBucket",
  "s3:GetBucketLocation",
  "s3:ListBucketMultipartUploads",
  "s3:ListMultipartUploadParts",
  "s3:GetObjectTagging",
  "s3:PutObjectTagging",
  // S3 replication (artifacts.replicationRegion): what S3 does with the replication role.
  "s3:GetReplicationConfiguration",
  "s3:GetObjectVersionForReplication",
  "s3:GetObjectVersionAcl",
  "s3:GetObjectVersionTagging",
  "s3:ReplicateObject",
  "s3:ReplicateDelete",
  "s3:ReplicateTags",
];

/** Every other action a workload role may have (on any resource: their own policies scope them). */
export const WORKLOAD_ACTIONS: readonly string[] = [
  ...new Set([
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:DescribeImages",
    "ecr:DescribeImageScanFindings",
    "ecr:ListImages",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:ListMetrics",
    // AmazonRDSEnhancedMonitoringRole (the monitoring role's managed policy).
    "logs:CreateLogGroup",
    "logs:PutRetentionPolicy",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:DescribeLogStreams",
    "logs:GetLogEvents",
    ...loadBalancerControllerPolicy.Statement.flatMap((s) => [s.Action].flat()),
  ]),
].sort();

/** Props of {@link WorkloadBoundary}. */
export interface WorkloadBoundaryProps {
  /** Name of the managed policy (`<project>-<env>-workload-boundary`). Required. */
  readonly name: string;
  /** The S3 buckets of the stack (exact names): the only buckets a workload role may reach. Required. */
  readonly bucketNames: readonly string[];
  /** The stack's region (gives the ARN partition). Required. */
  readonly region: string;
}

export class WorkloadBoundary extends Construct {
  readonly policy: IamPolicy;
  /** The boundary's ARN (a token: roles that carry it depend on the policy). */
  readonly arn: string;

  constructor(scope: Construct, id: string, props: WorkloadBoundaryProps) {
    super(scope, id);
    if (props.bucketNames.length === 0)
      throw new PropError(this, "bucketNames", props.bucketNames, "at least one bucket (the artifact store's)");
    const partition = partitionOf(props.region);
    const buckets = [...new Set(props.bucketNames)].map((b) => `arn:${partition}:s3:::${b}`);
    this.policy = new IamPolicy(this, "policy", {
      name: props.name,
      description: "Permissions boundary of every role the platform's stack creates for its workloads",
      // Only an administrator changes it (npm run bootstrap); the deploy role may not (constructs/ci-roles).
      tags: { [ADMINISTERED_BY_TAG]: ADMINISTERED_BY_BOOTSTRAP },
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Sid: "PlatformBuckets", Effect: "Allow", Action: WORKLOAD_S3_ACTIONS, Resource: [...buckets, ...buckets.map((b) => `${b}/*`)] },
          { Sid: "PlatformCalls", Effect: "Allow", Action: WORKLOAD_ACTIONS, Resource: "*" },
        ],
      }),
    });
    this.arn = this.policy.arn;
  }
}

/**
 * Puts `boundaryArn` on every IAM role under `scope` that has no boundary yet, except the roles `exempt`
 * names (the CI plan and deploy roles, which only an administrator applies). Call it once the stack's
 * constructs exist.
 */
export function applyBoundary(scope: Construct, boundaryArn: string, exempt: (role: IamRole) => boolean): IamRole[] {
  const bounded: IamRole[] = [];
  for (const node of scope.node.findAll()) {
    if (!(node instanceof IamRole) || exempt(node) || node.permissionsBoundaryInput !== undefined) continue;
    node.permissionsBoundary = boundaryArn;
    bounded.push(node);
  }
  return bounded;
}
