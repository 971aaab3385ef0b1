import { type Attrs, type Finding, PolicyRule, type TfJson, belongsToBucket, block, resources } from "./rule";

const ENCRYPTIONS = ["aws:kms", "aws:kms:dsse", "AES256"];

/** MLF-S3-1: every S3 bucket has default server-side encryption. */
export class BucketEncrypted extends PolicyRule {
  readonly id = "MLF-S3-1";
  readonly reason =
    "Every bucket must have default server-side encryption (an aws_s3_bucket_server_side_encryption_configuration naming SSE-KMS or SSE-S3), so no object is ever stored without it.";

  check(json: TfJson): Finding[] {
    const configs = resources(json, "aws_s3_bucket_server_side_encryption_configuration");
    return resources(json, "aws_s3_bucket").flatMap(([name, bucket]) => {
      const config = configs.find(([, c]) => belongsToBucket(c, name, bucket));
      if (!config) return [{ resource: `aws_s3_bucket.${name}`, message: "bucket has no server-side encryption configuration" }];
      const rules = (config[1].rule ?? []) as Attrs[];
      const algorithms = rules.map((r) => block(r.apply_server_side_encryption_by_default)?.sse_algorithm);
      if (algorithms.length === 0 || !algorithms.every((a) => ENCRYPTIONS.includes(a))) {
        return [
          {
            resource: `aws_s3_bucket.${name}`,
            message: `bucket encryption must be one of ${ENCRYPTIONS.join(", ")}, got ${JSON.stringify(algorithms)}`,
          },
        ];
      }
      return [];
    });
  }
}
