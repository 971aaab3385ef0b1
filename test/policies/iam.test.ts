import { NoS3Wildcards } from "../../policies";
import { iamJson, policyDoc } from "./fixtures";

const rule = new NoS3Wildcards();
const scoped = { Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject"], Resource: "arn:aws:s3:::b/mlartifacts/*" };
const checkStatement = (statement: Record<string, unknown>) =>
  rule.check(iamJson("aws_iam_role_policy", { policy: policyDoc(scoped, statement) }));

describe("MLF-IAM-1 no S3 wildcards", () => {
  it.each<[string, Record<string, unknown>]>([
    ["named S3 actions on objects under a named bucket and prefix", scoped],
    [
      "s3:ListBucket on a named bucket, scoped by an s3:prefix condition",
      {
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: "arn:aws:s3:::b",
        Condition: { StringLike: { "s3:prefix": ["mlartifacts/*"] } },
      },
    ],
    ["an object wildcard right after a named bucket", { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*" }],
    [
      "Terraform references to the bucket, with a prefix",
      { Effect: "Allow", Action: ["s3:GetObject"], Resource: ["${aws_s3_bucket.b.arn}", "${aws_s3_bucket.b.arn}/mlartifacts/*"] },
    ],
    [
      "a wildcard ARN of another service next to S3 actions (a KMS key)",
      {
        Effect: "Allow",
        Action: ["s3:GetObject", "kms:Decrypt"],
        Resource: ["arn:aws:s3:::b/p/*", "arn:aws:kms:eu-west-1:111111111111:key/*"],
      },
    ],
    ['EC2 describes on "*"', { Effect: "Allow", Action: "ec2:Describe*", Resource: "*" }],
    [
      'Grafana\'s CloudWatch read policy (no S3 action, Resource "*")',
      {
        Sid: "ReadCloudWatchMetrics",
        Effect: "Allow",
        Action: ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics", "logs:Get*"],
        Resource: "*",
        Condition: { StringEquals: { "aws:RequestedRegion": "eu-west-1" } },
      },
    ],
    ['a Deny with s3:* on "*"', { Effect: "Deny", Action: "s3:*", Resource: "*" }],
    ["a Deny with NotAction / NotResource", { Effect: "Deny", NotAction: "s3:GetObject", NotResource: "arn:aws:s3:::b/*" }],
  ])("passes %s", (_what, statement) => {
    expect(checkStatement(statement)).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['action "*"', { Effect: "Allow", Action: "*", Resource: "arn:aws:s3:::b" }, 'action "*"'],
    ['action "s3:*"', { Effect: "Allow", Action: ["s3:*"], Resource: "arn:aws:s3:::b/*" }, 'action "s3:*"'],
    ['action "s3:Get*"', { Effect: "Allow", Action: ["s3:Get*"], Resource: "arn:aws:s3:::b/p/*" }, 'action "s3:Get*"'],
    ['action "s3:Put*"', { Effect: "Allow", Action: "s3:Put*", Resource: "arn:aws:s3:::b/p/*" }, 'action "s3:Put*"'],
    [
      "a ? wildcard in an action, any case",
      { Effect: "Allow", Action: "S3:GetObjec?", Resource: "arn:aws:s3:::b/p/*" },
      'action "S3:GetObjec?"',
    ],
    [
      "a service wildcard that covers S3",
      { Effect: "Allow", Action: "*:GetObject", Resource: "arn:aws:s3:::b/p/*" },
      'action "*:GetObject"',
    ],
    ['an S3 action on resource "*"', { Effect: "Allow", Action: "s3:GetObject", Resource: "*" }, 's3:GetObject on resource "*"'],
    [
      "an S3 action on every bucket",
      { Effect: "Allow", Action: "s3:ListBucket", Resource: "arn:aws:s3:::*" },
      's3:ListBucket on resource "arn:aws:s3:::*"',
    ],
    [
      "an S3 action on every object of every bucket",
      { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::*/*" },
      's3:GetObject on resource "arn:aws:s3:::*/*"',
    ],
    [
      "an S3 action on buckets by name prefix",
      { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::foo*" },
      's3:GetObject on resource "arn:aws:s3:::foo*"',
    ],
    [
      "a bucket wildcard before a prefix",
      { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::mlflow-*/mlartifacts/*" },
      's3:GetObject on resource "arn:aws:s3:::mlflow-*/mlartifacts/*"',
    ],
    [
      "a wildcard appended to a bucket reference",
      { Effect: "Allow", Action: "s3:GetObject", Resource: "${aws_s3_bucket.b.arn}*" },
      's3:GetObject on resource "${aws_s3_bucket.b.arn}*"',
    ],
    [
      "a wildcard service in the ARN",
      { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:*:::b/p/*" },
      's3:GetObject on resource "arn:aws:*:::b/p/*"',
    ],
    [
      "Allow with NotAction",
      { Effect: "Allow", NotAction: "iam:*", Resource: "*" },
      "Allow with NotAction grants every action it does not list, S3 included",
    ],
    [
      "Allow with NotAction even when it excludes S3",
      { Effect: "Allow", NotAction: "s3:*", Resource: "arn:aws:s3:::b/p/*" },
      "Allow with NotAction grants every action it does not list: name the actions",
    ],
    [
      "NotResource with S3 actions",
      { Effect: "Allow", Action: "s3:GetObject", NotResource: "arn:aws:s3:::other/*" },
      "NotResource with s3:GetObject grants them on every resource it does not list",
    ],
  ])("flags %s", (_what, statement, message) => {
    const findings = checkStatement(statement);
    expect(findings).toHaveLength(1);
    expect(findings[0].resource).toBe("aws_iam_role_policy.x");
    expect(findings[0].message).toContain(`policy grants S3 too broadly: ${message}`);
  });

  it("reports every problem of a statement in one finding", () => {
    expect(checkStatement({ Effect: "Allow", Action: ["s3:Get*", "s3:PutObject"], Resource: ["arn:aws:s3:::b/p/*", "*"] })).toEqual([
      {
        resource: "aws_iam_role_policy.x",
        message: 'policy grants S3 too broadly: action "s3:Get*"; s3:Get*, s3:PutObject on resource "*"',
      },
    ]);
  });

  it("reads inline role policies, policy documents (not_actions, not_resources) and managed policy attachments", () => {
    expect(
      rule.check(
        iamJson("aws_iam_role", { inline_policy: [{ name: "i", policy: policyDoc({ Effect: "Allow", Action: "s3:*", Resource: "*" }) }] }),
      ),
    ).toEqual([{ resource: "aws_iam_role.x", message: 'policy grants S3 too broadly: action "s3:*"; s3:* on resource "*"' }]);
    const doc = (statement: Record<string, unknown>) =>
      rule.check({ data: { aws_iam_policy_document: { d: { statement: [statement] } } } });
    expect(doc({ effect: "Allow", actions: ["s3:*"], resources: ["arn:aws:s3:::b"] })).toEqual([
      { resource: "data.aws_iam_policy_document.d", message: 'policy grants S3 too broadly: action "s3:*"' },
    ]);
    expect(doc({ actions: ["s3:GetObject"], not_resources: ["arn:aws:s3:::b/p/*"] })[0].message).toMatch(/NotResource with s3:GetObject/);
    expect(doc({ not_actions: ["iam:*"], resources: ["*"] })[0].message).toMatch(
      /Allow with NotAction grants every action it does not list, S3 included/,
    );
    expect(doc({ effect: "Allow", actions: ["s3:GetObject"], resources: ["arn:aws:s3:::b/mlartifacts/*"] })).toEqual([]);
    expect(
      rule.check(iamJson("aws_iam_role_policy_attachment", { role: "r", policy_arn: "arn:aws:iam::aws:policy/AmazonS3FullAccess" })),
    ).toHaveLength(1);
    expect(
      rule.check(
        iamJson("aws_iam_role_policy_attachment", {
          role: "r",
          policy_arn: "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
        }),
      ),
    ).toEqual([]);
  });

  it("flags a policy it cannot read rather than trusting it", () => {
    expect(rule.check(iamJson("aws_iam_policy", { policy: '${file("policy.json")}' }))[0].message).toMatch(/policy cannot be read/);
  });
});
