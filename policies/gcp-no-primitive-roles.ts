import { PolicyRule, type Attrs, type Finding, type TfJson } from "./rule";

/** Google's basic (primitive) roles: each spans nearly every permission of its kind in every service of its scope. */
const BASIC_ROLES = ["roles/owner", "roles/editor", "roles/viewer"];

/** MLF-GCP-2: no IAM grant on a Google resource names a basic role (roles/owner, roles/editor, roles/viewer). */
export class GcpNoPrimitiveRoles extends PolicyRule {
  readonly id = "MLF-GCP-2";
  readonly reason =
    "Least privilege: no google_*_iam_member, _iam_binding or _iam_policy may grant a basic role (roles/owner, roles/editor, roles/viewer), which span every service of their scope (owner includes project IAM); each identity gets the predefined roles of what it manages or reads.";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const [type, byName] of Object.entries(json.resource ?? {})) {
      if (!/^google_.*_iam_(member|binding|policy)$/.test(type)) continue;
      for (const [name, grant] of Object.entries(byName) as [string, Attrs][]) {
        const roles = [grant.role, grant.policy_data].filter((r): r is string => typeof r === "string");
        const found = BASIC_ROLES.filter((p) => roles.some((r) => r === p || r.includes(`"${p}"`)));
        if (found.length > 0) findings.push({ resource: `${type}.${name}`, message: `grants ${found.join(", ")}` });
      }
    }
    return findings;
  }
}
