/** Small Terraform JSON documents for the policy rules' compliant / non-compliant cases. */
import type { TfJson } from "../../policies";

export const tlsPolicy = (bucket: string) =>
  JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [`\${aws_s3_bucket.${bucket}.arn}`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ],
  });

/** A bucket with every protection; `patch` changes or removes (undefined) one resource. */
export function bucketJson(patch: Record<string, Record<string, unknown> | undefined> = {}): TfJson {
  const base: Record<string, Record<string, unknown>> = {
    aws_s3_bucket: { b: { bucket: "artifacts" } },
    aws_s3_bucket_server_side_encryption_configuration: {
      e: {
        bucket: "${aws_s3_bucket.b.id}",
        rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: "aws:kms", kms_master_key_id: "${aws_kms_key.k.arn}" } }],
      },
    },
    aws_s3_bucket_public_access_block: {
      p: {
        bucket: "${aws_s3_bucket.b.id}",
        block_public_acls: true,
        block_public_policy: true,
        ignore_public_acls: true,
        restrict_public_buckets: true,
      },
    },
    aws_s3_bucket_ownership_controls: { o: { bucket: "${aws_s3_bucket.b.id}", rule: { object_ownership: "BucketOwnerEnforced" } } },
    aws_s3_bucket_policy: { pol: { bucket: "${aws_s3_bucket.b.id}", policy: tlsPolicy("b") } },
  };
  const resource: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const [type, r] of Object.entries(base)) {
    const name = Object.keys(r)[0];
    const value = type in patch ? patch[type] : r[name];
    if (value !== undefined) resource[type] = { [name]: value as Record<string, unknown> };
  }
  return { resource };
}

export const dbJson = (db: Record<string, unknown>): TfJson => ({
  resource: {
    aws_db_instance: {
      db: {
        storage_encrypted: true,
        kms_key_id: "${aws_kms_key.k.arn}",
        publicly_accessible: false,
        db_subnet_group_name: "${aws_db_subnet_group.s.name}",
        ...db,
      },
    },
  },
});

export const iamJson = (type: string, attrs: Record<string, unknown>): TfJson => ({ resource: { [type]: { x: attrs } } });
export const policyDoc = (...statements: Record<string, unknown>[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });
