/**
 * What only an administrator creates and changes (`npm run bootstrap -- <env>`), never the deploy role:
 * the resources tagged `mlflow-platform/administered-by: bootstrap` (the plan and deploy roles, GitHub's
 * OIDC provider, the workload boundary) and the policies and attachments of those roles; on GCP, everything
 * of the CI identities (constructs/gcp-ci-identities: IAM members and service accounts carry no labels, so
 * their Terraform names say it), which the deploy service account holds no role to change.
 */
import { ADMINISTERED_BY_BOOTSTRAP, ADMINISTERED_BY_TAG } from "../../constructs/ci-roles";
import type { Instance, StackJson } from "./instances";
import { stackInstances } from "./requests";

/** The construct id of the CI identities in a GCP stack (stacks/gcp-stack.ts). */
export const GCP_CI_IDENTITIES_ID = "ci_identities";

/** The addresses (`<type>.<name>`) of what only an administrator applies. */
export function administeredBy(json: StackJson): Set<string> {
  const all = stackInstances(json);
  const address = (i: Instance) => `${i.type}.${i.name}`;
  const tagged = new Set(
    all
      .filter((i) => (i.attrs.tags as Record<string, string> | undefined)?.[ADMINISTERED_BY_TAG] === ADMINISTERED_BY_BOOTSTRAP)
      .map(address),
  );
  // Their Terraform names start with the construct's id (cdktf names a resource after its construct path).
  for (const [type, byName] of Object.entries(json.resource ?? {}))
    if (type.startsWith("google_"))
      for (const name of Object.keys(byName)) if (name.startsWith(`${GCP_CI_IDENTITIES_ID}_`)) tagged.add(`${type}.${name}`);
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
