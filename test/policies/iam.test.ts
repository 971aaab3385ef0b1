import { NoS3Wildcards } from "../../policies";
import { iamJson, policyDoc } from "./fixtures";

const rule = new NoS3Wildcards();
const scoped = { Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject"], Resource: "arn:aws:s3:::b/mlartifacts/*" };

describe("MLF-IAM-1 no S3 wildcards", () => {
  it("passes named S3 actions on a named bucket, and non-S3 wildcards (KMS key policies, EC2 describes)", () => {
    expect(rule.check(iamJson("aws_iam_role_policy", { policy: policyDoc(scoped) }))).toEqual([]);
    expect(rule.check(iamJson("aws_iam_policy", { policy: policyDoc({ Effect: "Allow", Action: "ec2:Describe*", Resource: "*" }) }))).toEqual([]);
    expect(rule.check(iamJson("aws_iam_role_policy", { policy: policyDoc({ Effect: "Deny", Action: "s3:*", Resource: "*" }) }))).toEqual([]);
  });

  it.each([
    ["action \"*\"", { Effect: "Allow", Action: "*", Resource: "arn:aws:s3:::b" }],
    ["action \"s3:*\"", { Effect: "Allow", Action: ["s3:*"], Resource: "arn:aws:s3:::b/*" }],
    ["s3:GetObject on resource \"*\"", { Effect: "Allow", Action: "s3:GetObject", Resource: "*" }],
    ["s3:ListBucket on resource \"arn:aws:s3:::*\"", { Effect: "Allow", Action: "s3:ListBucket", Resource: "arn:aws:s3:::*" }],
    ["Allow with NotAction", { Effect: "Allow", NotAction: "iam:*", Resource: "*" }],
  ])("flags %s", (what, statement) => {
    const findings = rule.check(iamJson("aws_iam_role_policy", { policy: policyDoc(scoped, statement) }));
    expect(findings).toHaveLength(1);
    expect(findings[0].resource).toBe("aws_iam_role_policy.x");
    expect(findings[0].message).toContain(what.replace(/^Allow with NotAction$/, "NotAction"));
  });

  it("reads inline role policies, policy documents and managed policy attachments", () => {
    expect(rule.check(iamJson("aws_iam_role", { inline_policy: [{ name: "i", policy: policyDoc({ Effect: "Allow", Action: "s3:*", Resource: "*" }) }] }))).toEqual([
      { resource: "aws_iam_role.x", message: 'policy grants S3 too broadly: action "s3:*"' },
    ]);
    expect(rule.check({ data: { aws_iam_policy_document: { d: { statement: [{ effect: "Allow", actions: ["s3:*"], resources: ["arn:aws:s3:::b"] }] } } } }))
      .toEqual([{ resource: "data.aws_iam_policy_document.d", message: 'policy grants S3 too broadly: action "s3:*"' }]);
    expect(rule.check(iamJson("aws_iam_role_policy_attachment", { role: "r", policy_arn: "arn:aws:iam::aws:policy/AmazonS3FullAccess" }))).toHaveLength(1);
    expect(rule.check(iamJson("aws_iam_role_policy_attachment", { role: "r", policy_arn: "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole" }))).toEqual([]);
  });

  it("flags a policy it cannot read rather than trusting it", () => {
    expect(rule.check(iamJson("aws_iam_policy", { policy: "${file(\"policy.json\")}" }))[0].message).toMatch(/policy cannot be read/);
  });
});
