import { PolicyRule, resources, type Finding, type TfJson } from "./rule";

/** MLF-GCS-2: every Cloud Storage bucket is private: uniform bucket-level access and public access prevention enforced. */
export class GcsBucketPrivate extends PolicyRule {
  readonly id = "MLF-GCS-2";
  readonly reason =
    'A bucket must refuse public access whatever a later grant says (public_access_prevention "enforced") and take no object ACLs (uniform_bucket_level_access), so IAM bindings alone decide who reads artifacts.';

  check(json: TfJson): Finding[] {
    const findings: Finding[] = [];
    for (const [name, bucket] of resources(json, "google_storage_bucket")) {
      const resource = `google_storage_bucket.${name}`;
      if (bucket.public_access_prevention !== "enforced")
        findings.push({
          resource,
          message: `public_access_prevention must be "enforced", got ${JSON.stringify(bucket.public_access_prevention ?? "unset")}`,
        });
      if (bucket.uniform_bucket_level_access !== true)
        findings.push({ resource, message: "uniform_bucket_level_access must be true (no object ACLs)" });
    }
    return findings;
  }
}
