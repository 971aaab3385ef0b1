import { PolicyRule, type Attrs, type Finding, type TfJson } from "./rule";

/** The principals that make a Google resource public. */
const PUBLIC = ["allUsers", "allAuthenticatedUsers"];

/** MLF-GCP-1: no IAM grant on a Google resource names allUsers or allAuthenticatedUsers. */
export class GcpNoPublicMembers extends PolicyRule {
  readonly id = "MLF-GCP-1";
  readonly reason =
    "Nothing the stack creates is public: no google_*_iam_member, _iam_binding or _iam_policy may grant a role to allUsers or allAuthenticatedUsers (any Google account), which public access prevention would refuse on a bucket and nothing refuses elsewhere.";

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const [type, byName] of Object.entries(json.resource ?? {})) {
      if (!/^google_.*_iam_(member|binding|policy)$/.test(type)) continue;
      for (const [name, grant] of Object.entries(byName) as [string, Attrs][]) {
        const members = [grant.member, ...(Array.isArray(grant.members) ? grant.members : []), grant.policy_data].filter(
          (m): m is string => typeof m === "string",
        );
        const found = PUBLIC.filter((p) => members.some((m) => m === p || m.includes(`"${p}"`)));
        if (found.length > 0) findings.push({ resource: `${type}.${name}`, message: `grants to ${found.join(", ")}` });
      }
    }
    return findings;
  }
}
