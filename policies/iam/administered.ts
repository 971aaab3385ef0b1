/**
 * What only an administrator creates and changes (`npm run bootstrap -- <env>`), never the deploy role:
 * the resources tagged `mlflow-platform/administered-by: bootstrap` (the plan and deploy roles, GitHub's
 * OIDC provider, the workload boundary) and the policies and attachments of those roles.
 */
import { ADMINISTERED_BY_BOOTSTRAP, ADMINISTERED_BY_TAG } from "../../constructs/ci-roles";
import type { Instance, StackJson } from "./instances";
import { stackInstances } from "./requests";

/** The addresses (`<type>.<name>`) of what only an administrator applies. */
export function administeredBy(json: StackJson): Set<string> {
  const all = stackInstances(json);
  const address = (i: Instance) => `${i.type}.${i.name}`;
  const tagged = new Set(
    all
      .filter((i) => (i.attrs.tags as Record<string, string> | undefined)?.[ADMINISTERED_BY_TAG] === ADMINISTERED_BY_BOOTSTRAP)
      .map(address),
  );
  for (const i of all) {
    const role = i.target(i.attrs.role);
    if ((i.type === "aws_iam_role_policy" || i.type === "aws_iam_role_policy_attachment") && role && tagged.has(address(role)))
      tagged.add(address(i));
  }
  return tagged;
}

/** True when `i` is one of `administered`. */
export function isAdministered(administered: Set<string>, i: Instance): boolean {
  return administered.has(`${i.type}.${i.name}`);
}
