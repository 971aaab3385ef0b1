import { BucketEncrypted, BucketPrivate, BucketTlsOnly } from "../../policies";
import { bucketJson, tlsPolicy } from "./fixtures";

const messages = (findings: { resource: string; message: string }[]) => findings.map((f) => `${f.resource}: ${f.message}`);

describe("MLF-S3-1 bucket encrypted", () => {
  const rule = new BucketEncrypted();
  it("passes a bucket with SSE-KMS or SSE-S3 default encryption (referenced by id or by name)", () => {
    expect(rule.check(bucketJson())).toEqual([]);
    expect(
      rule.check(
        bucketJson({
          aws_s3_bucket_server_side_encryption_configuration: {
            bucket: "artifacts",
            rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: "AES256" } }],
          },
        }),
      ),
    ).toEqual([]);
  });
  it("flags a bucket without an encryption configuration", () => {
    expect(messages(rule.check(bucketJson({ aws_s3_bucket_server_side_encryption_configuration: undefined })))).toEqual([
      "aws_s3_bucket.b: bucket has no server-side encryption configuration",
    ]);
  });
  it("flags an encryption configuration of another bucket, or an unknown algorithm", () => {
    expect(
      rule.check(bucketJson({ aws_s3_bucket_server_side_encryption_configuration: { bucket: "${aws_s3_bucket.other.id}", rule: [] } })),
    ).toHaveLength(1);
    expect(
      messages(
        rule.check(
          bucketJson({
            aws_s3_bucket_server_side_encryption_configuration: {
              bucket: "${aws_s3_bucket.b.id}",
              rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: "none" } }],
            },
          }),
        ),
      ),
    ).toEqual(['aws_s3_bucket.b: bucket encryption must be one of aws:kms, aws:kms:dsse, AES256, got ["none"]']);
  });
});

describe("MLF-S3-2 bucket private", () => {
  const rule = new BucketPrivate();
  it("passes a bucket with all four blocks, owner-enforced ownership and no public grant", () => {
    expect(rule.check(bucketJson())).toEqual([]);
  });
  it("flags a missing or partial public access block", () => {
    expect(messages(rule.check(bucketJson({ aws_s3_bucket_public_access_block: undefined })))).toEqual([
      "aws_s3_bucket.b: public access not blocked: block_public_acls, block_public_policy, ignore_public_acls, restrict_public_buckets must be true",
    ]);
    expect(
      messages(
        rule.check(
          bucketJson({
            aws_s3_bucket_public_access_block: {
              bucket: "${aws_s3_bucket.b.id}",
              block_public_acls: true,
              block_public_policy: false,
              ignore_public_acls: true,
              restrict_public_buckets: true,
            },
          }),
        ),
      ),
    ).toEqual(["aws_s3_bucket.b: public access not blocked: block_public_policy must be true"]);
  });
  it("flags ACLs left enabled, and a public canned ACL", () => {
    expect(
      rule.check(
        bucketJson({ aws_s3_bucket_ownership_controls: { bucket: "${aws_s3_bucket.b.id}", rule: { object_ownership: "ObjectWriter" } } }),
      ),
    ).toHaveLength(1);
    const json = bucketJson();
    json.resource!.aws_s3_bucket_acl = { a: { bucket: "${aws_s3_bucket.b.id}", acl: "public-read" } };
    expect(messages(rule.check(json))).toEqual(['aws_s3_bucket_acl.a: canned ACL "public-read" grants access beyond the owner']);
  });
  it("flags a policy that allows everyone without a condition, and one it cannot read", () => {
    const open = JSON.stringify({
      Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "${aws_s3_bucket.b.arn}/*" }],
    });
    expect(messages(rule.check(bucketJson({ aws_s3_bucket_policy: { bucket: "${aws_s3_bucket.b.id}", policy: open } })))).toEqual([
      'aws_s3_bucket_policy.pol: bucket policy allows everyone (Principal "*") without a condition',
    ]);
    const principalAws = JSON.stringify({
      Statement: [{ Effect: "Allow", Principal: { AWS: "*" }, Action: "s3:GetObject", Resource: "x" }],
    });
    expect(rule.check(bucketJson({ aws_s3_bucket_policy: { bucket: "${aws_s3_bucket.b.id}", policy: principalAws } }))).toHaveLength(1);
    expect(
      messages(rule.check(bucketJson({ aws_s3_bucket_policy: { bucket: "${aws_s3_bucket.b.id}", policy: "${jsonencode({})}" } }))),
    ).toEqual(["aws_s3_bucket_policy.pol: bucket policy cannot be read: write it as a JSON document or an aws_iam_policy_document"]);
  });
});

describe("MLF-S3-3 bucket TLS-only", () => {
  const rule = new BucketTlsOnly();
  it("passes a bucket whose policy denies s3:* without TLS", () => {
    expect(rule.check(bucketJson())).toEqual([]);
  });
  it("passes the same rule written as an aws_iam_policy_document", () => {
    const json = bucketJson({
      aws_s3_bucket_policy: { bucket: "${aws_s3_bucket.b.id}", policy: "${data.aws_iam_policy_document.tls.json}" },
    });
    json.data = {
      aws_iam_policy_document: {
        tls: {
          statement: [
            {
              effect: "Deny",
              actions: ["s3:*"],
              resources: ["x"],
              principals: [{ type: "*", identifiers: ["*"] }],
              condition: [{ test: "Bool", variable: "aws:SecureTransport", values: ["false"] }],
            },
          ],
        },
      },
    };
    expect(rule.check(json)).toEqual([]);
  });
  it("flags a bucket without a policy, or whose policy does not deny plain HTTP", () => {
    expect(messages(rule.check(bucketJson({ aws_s3_bucket_policy: undefined })))).toEqual([
      "aws_s3_bucket.b: no bucket policy denies non-TLS requests (Deny s3:* when aws:SecureTransport is false)",
    ]);
    const allowOnly = tlsPolicy("b").replace('"Deny"', '"Allow"');
    expect(rule.check(bucketJson({ aws_s3_bucket_policy: { bucket: "${aws_s3_bucket.b.id}", policy: allowOnly } }))).toHaveLength(1);
    const getOnly = tlsPolicy("b").replace('"s3:*"', '"s3:GetObject"');
    expect(rule.check(bucketJson({ aws_s3_bucket_policy: { bucket: "${aws_s3_bucket.b.id}", policy: getOnly } }))).toHaveLength(1);
  });
});
