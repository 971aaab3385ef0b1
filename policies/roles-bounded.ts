import { PolicyRule, resources, type Finding, type TfJson } from "./rule";
import { ADMINISTERED_BY_BOOTSTRAP, ADMINISTERED_BY_TAG } from "../constructs/ci-roles";

/**
 * MLF-IAM-2: every IAM role carries a permissions boundary that is a managed policy of the stack, unless
 * it is tagged `mlflow-platform/administered-by: bootstrap` (the CI plan and deploy roles: an administrator
 * applies them, and the deploy role's policy denies it every write to them; test/policies/iam-escalation.test.ts).
 * A role without a boundary that the deploy role could change would let it grant itself anything.
 */
export class RolesBounded extends PolicyRule {
  readonly id = "MLF-IAM-2";
  readonly reason =
    "Every role the stack creates carries the workload permissions boundary (constructs/core/permissions-boundary.ts), so the deploy role, which may only change roles with that boundary, can never create or change a role into an administrator.";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const [name, role] of resources(json, "aws_iam_role")) {
      const tags = (role.tags ?? {}) as Record<string, string>;
      if (tags[ADMINISTERED_BY_TAG] === ADMINISTERED_BY_BOOTSTRAP) continue;
      const boundary = role.permissions_boundary;
      if (boundary === undefined) {
        findings.push({
          resource: `aws_iam_role.${name}`,
          message:
            "has no permissions boundary: give it the stack's workload boundary (applyBoundary in stacks/mlflow-stack.ts does for every role created before it runs)",
        });
      } else if (typeof boundary !== "string" || !/^\$\{aws_iam_policy\.[A-Za-z0-9_-]+\.arn\}$/.test(boundary)) {
        findings.push({
          resource: `aws_iam_role.${name}`,
          message: `has the permissions boundary ${JSON.stringify(boundary)}, not a managed policy of the stack (\${aws_iam_policy.<name>.arn}): the deploy role may change only roles with the stack's own boundary`,
        });
      }
    }
    return findings;
  }
}
