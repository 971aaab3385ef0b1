/**
 * The AWS managed policies the stacks attach, with their content as AWS publishes it, so the evaluator can
 * judge a role that carries one. Source: the AWS Managed Policy Reference (the URL beside each); re-check
 * the version there when AWS edits a policy.
 */
import type { PolicyDocument } from "./evaluator";

interface ManagedPolicy {
  readonly name: string;
  readonly source: string;
  readonly version: string;
  readonly document: PolicyDocument;
}

export const AWS_MANAGED_POLICIES: readonly ManagedPolicy[] = [
  {
    // Attached to the RDS enhanced monitoring role (constructs/backend-store/index.ts).
    name: "service-role/AmazonRDSEnhancedMonitoringRole",
    source: "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonRDSEnhancedMonitoringRole.html",
    version: "v1 (2015-11-11)",
    document: {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "EnableCreationAndManagementOfRDSCloudwatchLogGroups",
          Effect: "Allow",
          Action: ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
          Resource: ["arn:aws:logs:*:*:log-group:RDS*"],
        },
        {
          Sid: "EnableCreationAndManagementOfRDSCloudwatchLogStreams",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"],
          Resource: ["arn:aws:logs:*:*:log-group:RDS*:log-stream:*"],
        },
      ],
    },
  },
];

/** The document of an AWS managed policy by ARN (any partition), or undefined when it is not in the table. */
export function awsManagedPolicy(arn: string): PolicyDocument | undefined {
  const m = /^arn:aws[a-z-]*:iam::aws:policy\/(.+)$/.exec(arn);
  return m ? AWS_MANAGED_POLICIES.find((p) => p.name === m[1])?.document : undefined;
}
