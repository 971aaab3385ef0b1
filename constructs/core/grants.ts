/**
 * Least-privilege access to one prefix of the artifact bucket, defined once: the IAM statements every
 * workload role on the bucket is built from (the tracking server, the training workflows, the retention
 * and drift jobs, a model server's inference log). Each option adds exactly its S3 actions, on the
 * objects under `<prefix>/` only, and the KMS actions they need on the bucket's key, usable only through
 * S3 in the bucket's region: a role that may read objects can decrypt them, but cannot call KMS directly
 * to decrypt anything else the key protects.
 *
 * Pure data (no cdktf): the caller puts the statements in a policy document. The synth-time policies
 * (policies/no-s3-wildcards.ts and the IAM checks) judge the result like any hand-written statement.
 */
import type { S3ArtifactStoreContract } from "./contracts";

/** One IAM policy statement, in the key order the policy JSON has always had. */
export interface IamPolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow";
  /** One action as a string, several as a list (the form each policy was written in). */
  readonly Action: string | string[];
  readonly Resource: string;
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

/**
 * The bucket (and the key) a grant is on: the artifact store's contract, or the part of it a construct
 * receives. The key is needed only when objects are read or written.
 */
export type ArtifactStoreRef = Pick<S3ArtifactStoreContract, "bucketArn"> & Partial<Pick<S3ArtifactStoreContract, "kmsKeyArn">>;

/** What a role may do under one prefix of the artifact bucket. Everything is off unless turned on. */
export interface ArtifactAccessOptions {
  /** Key prefix, without leading or trailing '/' (constructs/core/s3-prefix.ts): objects under `<prefix>/` only. Required. */
  readonly prefix: string;
  /**
   * `s3:ListBucket`, limited (`s3:prefix`) to keys under `<prefix>/`. `"including-prefix"` also allows a
   * listing whose prefix is `<prefix>` itself (no trailing '/'), which MLflow's client sends.
   * @default false
   */
  readonly list?: boolean | "including-prefix";
  /** `s3:GetObject`, and `kms:Decrypt` through S3. @default false */
  readonly read?: boolean;
  /** `s3:PutObject`, and `kms:GenerateDataKey` through S3. @default false */
  readonly write?: boolean;
  /** `s3:DeleteObject`. @default false */
  readonly delete?: boolean;
  /** `s3:AbortMultipartUpload` (cleaning up a failed upload). @default false */
  readonly abortUploads?: boolean;
  /** `s3:GetObjectTagging` and `s3:PutObjectTagging` (tags are not encrypted: no KMS). @default false */
  readonly tag?: boolean;
  /** The bucket's region: the key is usable only through S3 there (`kms:ViaService`). Required. */
  readonly region: string;
  /** Statement ids, each unique within the policy. @default ListPrefix, ObjectsUnderPrefix, UseKeyThroughS3 */
  readonly sids?: { readonly list?: string; readonly objects?: string; readonly key?: string };
}

/** One action as a string, several as a list: the form every policy of the platform has used. */
const action = (actions: string[]): string | string[] => (actions.length === 1 ? actions[0] : actions);

/**
 * The statements granting `options` on `store`: listing (when asked), the object actions on
 * `<bucket>/<prefix>/*`, and the KMS actions the object actions need, in that order. Statements with no
 * action are left out (a tag-only grant has no KMS statement).
 */
export function artifactAccess(store: ArtifactStoreRef, options: ArtifactAccessOptions): IamPolicyStatement[] {
  const { prefix } = options;
  const sids = { list: "ListPrefix", objects: "ObjectsUnderPrefix", key: "UseKeyThroughS3", ...options.sids };
  const statements: IamPolicyStatement[] = [];
  if (options.list) {
    const listed = options.list === "including-prefix" ? [prefix, `${prefix}/*`] : [`${prefix}/*`];
    statements.push({
      Sid: sids.list,
      Effect: "Allow",
      Action: "s3:ListBucket",
      Resource: store.bucketArn,
      Condition: { StringLike: { "s3:prefix": listed } },
    });
  }
  const objectActions = [
    ...(options.read ? ["s3:GetObject"] : []),
    ...(options.write ? ["s3:PutObject"] : []),
    ...(options.delete ? ["s3:DeleteObject"] : []),
    ...(options.abortUploads ? ["s3:AbortMultipartUpload"] : []),
    ...(options.tag ? ["s3:GetObjectTagging", "s3:PutObjectTagging"] : []),
  ];
  if (objectActions.length > 0) {
    statements.push({ Sid: sids.objects, Effect: "Allow", Action: action(objectActions), Resource: `${store.bucketArn}/${prefix}/*` });
  }
  const keyActions = [...(options.read ? ["kms:Decrypt"] : []), ...(options.write ? ["kms:GenerateDataKey"] : [])];
  if (keyActions.length > 0) {
    // A programming error, not a configuration one: every caller that reads or writes has the key.
    if (!store.kmsKeyArn) throw new Error(`artifactAccess: reading or writing objects under "${prefix}" needs the bucket's kmsKeyArn`);
    statements.push({
      Sid: sids.key,
      Effect: "Allow",
      Action: action(keyActions),
      Resource: store.kmsKeyArn,
      Condition: { StringEquals: { "kms:ViaService": `s3.${options.region}.amazonaws.com` } },
    });
  }
  return statements;
}
