import { PolicyRule, type Attrs, parsePolicy, resources, type Finding, type TfJson } from "./rule";

const BROAD_MANAGED = /:policy\/(AmazonS3FullAccess|AmazonS3ReadOnlyAccess|AdministratorAccess|PowerUserAccess)$/;

/** True when an Allow statement grants S3 with a wildcard action or resource. */
function broadS3(s: { effect: string; actions: string[]; notActions: string[]; resources: string[] }): string | undefined {
  if (s.effect !== "Allow") return undefined;
  if (s.notActions.length > 0) return "Allow with NotAction grants every other action, S3 included";
  const wildcard = s.actions.find((a) => a === "*" || a.toLowerCase() === "s3:*");
  if (wildcard) return `action "${wildcard}"`;
  const s3 = s.actions.filter((a) => a.toLowerCase().startsWith("s3:"));
  if (s3.length === 0) return undefined;
  const resource = s.resources.find((r) => r === "*" || /^arn:aws[a-z-]*:s3:::\*$/.test(r));
  return resource ? `${s3.join(", ")} on resource "${resource}"` : undefined;
}

/** MLF-IAM-1: no IAM policy grants S3 with "*" actions or "*" resources. */
export class NoS3Wildcards extends PolicyRule {
  readonly id = "MLF-IAM-1";
  readonly reason = "Least privilege: S3 permissions name their actions and their bucket (and prefix), never \"*\" or \"s3:*\", and no broad managed policy (AmazonS3FullAccess, AdministratorAccess, ...) is attached.";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    const inspect = (address: string, policy: unknown) => {
      const statements = parsePolicy(json, policy);
      if (!statements) {
        findings.push({ resource: address, message: "policy cannot be read: write it as a JSON document (JSON.stringify) or an aws_iam_policy_document so it can be checked" });
        return;
      }
      for (const s of statements) {
        const problem = broadS3(s);
        if (problem) findings.push({ resource: address, message: `policy grants S3 too broadly: ${problem}` });
      }
    };
    for (const type of ["aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy"]) {
      for (const [name, r] of resources(json, type)) inspect(`${type}.${name}`, r.policy);
    }
    for (const [name, role] of resources(json, "aws_iam_role")) {
      for (const inline of (role.inline_policy ?? []) as Attrs[]) inspect(`aws_iam_role.${name}`, inline.policy);
      for (const arn of (role.managed_policy_arns ?? []) as string[]) {
        if (BROAD_MANAGED.test(arn)) findings.push({ resource: `aws_iam_role.${name}`, message: `attaches the broad managed policy ${arn}` });
      }
    }
    for (const name of Object.keys(json.data?.aws_iam_policy_document ?? {})) {
      inspect(`data.aws_iam_policy_document.${name}`, `\${data.aws_iam_policy_document.${name}.json}`);
    }
    for (const type of ["aws_iam_role_policy_attachment", "aws_iam_policy_attachment", "aws_iam_user_policy_attachment", "aws_iam_group_policy_attachment"]) {
      for (const [name, r] of resources(json, type)) {
        if (BROAD_MANAGED.test(String(r.policy_arn))) findings.push({ resource: `${type}.${name}`, message: `attaches the broad managed policy ${r.policy_arn}` });
      }
    }
    return findings;
  }
}
