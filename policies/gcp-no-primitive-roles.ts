import { PolicyRule, type Attrs, type Finding, type TfJson } from "./rule";

/** The basic (primitive) roles that write: each grants nearly every permission of every service in its scope. */
const PRIMITIVE_WRITE_ROLES = ["roles/owner", "roles/editor"];

/** MLF-GCP-2: no IAM grant on a Google resource names roles/owner or roles/editor. */
export class GcpNoPrimitiveRoles extends PolicyRule {
  readonly id = "MLF-GCP-2";
  readonly reason =
    "Least privilege: no google_*_iam_member, _iam_binding or _iam_policy may grant roles/owner or roles/editor, the basic roles that change nearly everything in their scope (project IAM included for owner); each identity gets the predefined roles of what it manages (roles/viewer, read-only, is allowed).";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const [type, byName] of Object.entries(json.resource ?? {})) {
      if (!/^google_.*_iam_(member|binding|policy)$/.test(type)) continue;
      for (const [name, grant] of Object.entries(byName) as [string, Attrs][]) {
        const roles = [grant.role, grant.policy_data].filter((r): r is string => typeof r === "string");
        const found = PRIMITIVE_WRITE_ROLES.filter((p) => roles.some((r) => r === p || r.includes(`"${p}"`)));
        if (found.length > 0) findings.push({ resource: `${type}.${name}`, message: `grants ${found.join(", ")}` });
      }
    }
    return findings;
  }
}
