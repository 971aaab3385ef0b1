/**
 * artifactAccess (constructs/core/grants.ts): the one definition of least-privilege access to a prefix of
 * the artifact bucket. Each option adds exactly its actions; objects are scoped to `<prefix>/*`; the key is
 * usable through S3 in the bucket's region only; and the statements pass the synth-time S3 policy.
 */
import { artifactAccess, type ArtifactAccessOptions, type IamPolicyStatement } from "../../../constructs/core/grants";
import { NoS3Wildcards } from "../../../policies";

const store = { bucketArn: "arn:aws:s3:::mlflow-dev-artifacts", kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k" };
const base: ArtifactAccessOptions = { prefix: "mlartifacts", region: "eu-west-1" };

/** Every action the statements grant, S3 and KMS. */
const actionsOf = (statements: IamPolicyStatement[]): string[] =>
  statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));

describe("artifactAccess", () => {
  it("grants nothing unless an option is on", () => {
    expect(artifactAccess(store, base)).toEqual([]);
  });

  it.each<[keyof ArtifactAccessOptions, string[]]>([
    ["list", ["s3:ListBucket"]],
    ["read", ["s3:GetObject", "kms:Decrypt"]],
    ["write", ["s3:PutObject", "kms:GenerateDataKey"]],
    ["delete", ["s3:DeleteObject"]],
    ["abortUploads", ["s3:AbortMultipartUpload"]],
    ["tag", ["s3:GetObjectTagging", "s3:PutObjectTagging"]],
  ])("%s adds exactly %j", (option, actions) => {
    expect(actionsOf(artifactAccess(store, { ...base, [option]: true }))).toEqual(actions);
  });

  it("puts every object action in one statement on the objects under the prefix, in a fixed order", () => {
    const all = artifactAccess(store, { ...base, list: true, read: true, write: true, delete: true, abortUploads: true, tag: true });
    expect(all.map((s) => s.Sid)).toEqual(["ListPrefix", "ObjectsUnderPrefix", "UseKeyThroughS3"]);
    expect(all[1]).toEqual({
      Sid: "ObjectsUnderPrefix",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:GetObjectTagging", "s3:PutObjectTagging"],
      Resource: "arn:aws:s3:::mlflow-dev-artifacts/mlartifacts/*",
    });
    expect(all[2].Action).toEqual(["kms:Decrypt", "kms:GenerateDataKey"]);
  });

  it("writes one action as a string, several as a list (the policies' JSON stays as it was)", () => {
    const [objects, key] = artifactAccess(store, { ...base, write: true });
    expect(objects.Action).toBe("s3:PutObject");
    expect(key.Action).toBe("kms:GenerateDataKey");
  });

  it("limits listing to keys under the prefix, or also the prefix itself", () => {
    const [below] = artifactAccess(store, { ...base, list: true });
    expect(below).toEqual({
      Sid: "ListPrefix",
      Effect: "Allow",
      Action: "s3:ListBucket",
      Resource: store.bucketArn,
      Condition: { StringLike: { "s3:prefix": ["mlartifacts/*"] } },
    });
    const [including] = artifactAccess(store, { ...base, list: "including-prefix" });
    expect(including.Condition).toEqual({ StringLike: { "s3:prefix": ["mlartifacts", "mlartifacts/*"] } });
  });

  it("scopes a nested prefix the same way", () => {
    const [list, objects] = artifactAccess(store, { ...base, prefix: "inference-logs/model=iris", list: true, read: true });
    expect(list.Condition).toEqual({ StringLike: { "s3:prefix": ["inference-logs/model=iris/*"] } });
    expect(objects.Resource).toBe("arn:aws:s3:::mlflow-dev-artifacts/inference-logs/model=iris/*");
  });

  it("lets the key be used only through S3 in the bucket's region", () => {
    const key = artifactAccess(store, { ...base, read: true, write: true }).at(-1)!;
    expect(key).toEqual({
      Sid: "UseKeyThroughS3",
      Effect: "Allow",
      Action: ["kms:Decrypt", "kms:GenerateDataKey"],
      Resource: store.kmsKeyArn,
      Condition: { StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" } },
    });
  });

  it("needs no key for listing, deleting or tagging, and refuses to read or write without one", () => {
    const bucketOnly = { bucketArn: store.bucketArn };
    expect(actionsOf(artifactAccess(bucketOnly, { ...base, list: true, delete: true, abortUploads: true, tag: true }))).not.toContain(
      "kms:Decrypt",
    );
    expect(() => artifactAccess(bucketOnly, { ...base, read: true })).toThrow(/needs the bucket's kmsKeyArn/);
    expect(() => artifactAccess(bucketOnly, { ...base, write: true })).toThrow(/needs the bucket's kmsKeyArn/);
  });

  it("takes the statement ids of the caller's policy", () => {
    const sids = artifactAccess(store, {
      ...base,
      list: true,
      read: true,
      sids: { list: "ListModelLog", objects: "ReadModelLog", key: "DecryptThroughS3" },
    }).map((s) => s.Sid);
    expect(sids).toEqual(["ListModelLog", "ReadModelLog", "DecryptThroughS3"]);
  });

  it("is judged by the synth-time S3 policy: passes on one bucket, fails on a wildcard one", () => {
    const all: ArtifactAccessOptions = {
      ...base,
      list: "including-prefix",
      read: true,
      write: true,
      delete: true,
      abortUploads: true,
      tag: true,
    };
    const json = (statements: IamPolicyStatement[]) => ({
      resource: { aws_iam_role_policy: { p: { role: "r", policy: JSON.stringify({ Version: "2012-10-17", Statement: statements }) } } },
    });
    expect(new NoS3Wildcards().check(json(artifactAccess(store, all)))).toEqual([]);
    expect(new NoS3Wildcards().check(json(artifactAccess({ ...store, bucketArn: "arn:aws:s3:::mlflow-*" }, all))).length).toBeGreaterThan(
      0,
    );
  });
});
