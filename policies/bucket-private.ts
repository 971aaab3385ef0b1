import { type Attrs, type Finding, PolicyRule, type TfJson, belongsToBucket, block, parsePolicy, resources } from "./rule";

const BLOCKS = ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"];

/** True when a policy principal is everyone. */
export function isPublicPrincipal(principal: unknown): boolean {
  if (principal === "*") return true;
  if (Array.isArray(principal))
    return principal.some((p) => isPublicPrincipal(p) || p?.type === "*" || (p?.identifiers ?? []).includes("*"));
  if (principal && typeof principal === "object") {
    const aws = (principal as Record<string, unknown>).AWS;
    return aws === "*" || (Array.isArray(aws) && aws.includes("*"));
  }
  return false;
}

/** MLF-S3-2: every S3 bucket is private: all four public-access blocks, ACLs disabled, no public grant. */
export class BucketPrivate extends PolicyRule {
  readonly id = "MLF-S3-2";
  readonly reason =
    "Artifacts and logs are never public: each bucket needs an aws_s3_bucket_public_access_block with all four settings true, BucketOwnerEnforced ownership (no ACLs), and no policy statement allowing everyone.";

  check(json: TfJson): Finding[] {
    const blocks = resources(json, "aws_s3_bucket_public_access_block");
    const ownership = resources(json, "aws_s3_bucket_ownership_controls");
    const acls = resources(json, "aws_s3_bucket_acl");
    const policies = resources(json, "aws_s3_bucket_policy");
    const findings: Finding[] = [];
    for (const [name, bucket] of resources(json, "aws_s3_bucket")) {
      const address = `aws_s3_bucket.${name}`;
      const mine = ([, r]: [string, Attrs]) => belongsToBucket(r, name, bucket);
      const pab = blocks.find(mine);
      const off = pab ? BLOCKS.filter((k) => pab[1][k] !== true) : BLOCKS;
      if (off.length > 0) findings.push({ resource: address, message: `public access not blocked: ${off.join(", ")} must be true` });
      const own = ownership.find(mine);
      if (block(own?.[1].rule)?.object_ownership !== "BucketOwnerEnforced") {
        findings.push({ resource: address, message: "object ownership must be BucketOwnerEnforced (ACLs disabled)" });
      }
      for (const [aclName, acl] of acls.filter(mine)) {
        if (acl.acl !== undefined && acl.acl !== "private")
          findings.push({ resource: `aws_s3_bucket_acl.${aclName}`, message: `canned ACL "${acl.acl}" grants access beyond the owner` });
      }
      for (const [policyName, policy] of policies.filter(mine)) {
        const statements = parsePolicy(json, policy.policy);
        if (!statements) {
          findings.push({
            resource: `aws_s3_bucket_policy.${policyName}`,
            message: "bucket policy cannot be read: write it as a JSON document or an aws_iam_policy_document",
          });
          continue;
        }
        if (statements.some((s) => s.effect === "Allow" && isPublicPrincipal(s.principal) && Object.keys(s.condition).length === 0)) {
          findings.push({
            resource: `aws_s3_bucket_policy.${policyName}`,
            message: 'bucket policy allows everyone (Principal "*") without a condition',
          });
        }
      }
    }
    return findings;
  }
}
