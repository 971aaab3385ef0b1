import { PolicyRule, block, resources, type Finding, type TfJson } from "./rule";

/** MLF-GCS-1: every Cloud Storage bucket is encrypted with a customer-managed Cloud KMS key. */
export class GcsBucketCmek extends PolicyRule {
  readonly id = "MLF-GCS-1";
  readonly reason =
    "Every Cloud Storage bucket must name a customer-managed Cloud KMS key (encryption.default_kms_key_name): who may decrypt the artifacts is then decided by that key's IAM, which the stack controls, not by Google's default keys.";

  check(json: TfJson): Finding[] {
    return resources(json, "google_storage_bucket").flatMap(([name, bucket]) =>
      block(bucket.encryption)?.default_kms_key_name
        ? []
        : [{ resource: `google_storage_bucket.${name}`, message: "bucket has no encryption.default_kms_key_name (CMEK)" }],
    );
  }
}
