import { type Finding, PolicyRule, type TfJson, belongsToBucket, parsePolicy, resources } from "./rule";

/** MLF-S3-3: every S3 bucket's policy denies requests that do not use TLS. */
export class BucketTlsOnly extends PolicyRule {
  readonly id = "MLF-S3-3";
  readonly reason =
    "Artifacts must never travel in clear text: each bucket needs a bucket policy with a Deny of s3:* when aws:SecureTransport is false.";

  check(json: TfJson): Finding[] {
    const policies = resources(json, "aws_s3_bucket_policy");
    return resources(json, "aws_s3_bucket").flatMap(([name, bucket]) => {
      const own = policies.filter(([, p]) => belongsToBucket(p, name, bucket));
      const denies = own.some(([, p]) =>
        (parsePolicy(json, p.policy) ?? []).some(
          (s) =>
            s.effect === "Deny" &&
            s.actions.some((a) => a === "s3:*" || a === "*") &&
            String(s.condition.Bool?.["aws:SecureTransport"] ?? s.condition.Bool?.["aws:securetransport"]) === "false",
        ),
      );
      return denies
        ? []
        : [
            {
              resource: `aws_s3_bucket.${name}`,
              message: "no bucket policy denies non-TLS requests (Deny s3:* when aws:SecureTransport is false)",
            },
          ];
    });
  }
}
