/**
 * DriftJob's log prefix: the inference log's partitioned layout (`<prefix>/model=<name>`) is accepted,
 * a '=' anywhere else is not (constructs/core/s3-prefix.ts).
 */
import { TerraformStack, Testing } from "cdktf";
import { DriftJob, type DriftJobProps } from "../../../constructs/drift-job";

const base: DriftJobProps = {
  namespace: "mlflow",
  name: "mlflow-drift-iris",
  schedule: "30 2 * * *",
  command: { image: "img:1", command: ["mlflow-platform"], args: [], env: [] },
  podLabels: { "app.kubernetes.io/component": "drift-job" },
  bucketArn: "arn:aws:s3:::b",
  kmsKeyArn: "arn:aws:kms:eu-west-1:111111111111:key/k",
  logPrefix: "inference-logs/model=iris",
  clusterName: "c",
  accountId: "111111111111",
  region: "eu-west-1",
  roleName: "r",
};
const build = (p: Partial<DriftJobProps>) => () => new DriftJob(new TerraformStack(Testing.app(), "t"), "drift", { ...base, ...p });

test("the model's partitioned log prefix is accepted", () => {
  expect(build({})).not.toThrow();
  expect(build({ logPrefix: "team/inference-logs/model=iris" })).not.toThrow();
});

test.each([
  "inference-logs/=iris",
  "inference-logs/model==iris",
  "inference-logs/model=iris=2",
  "inference-logs/model=iris/",
  "/inference-logs/model=iris",
])("logPrefix %j is refused", (logPrefix) => {
  expect(build({ logPrefix })).toThrow(/drift: logPrefix is .*: expected an S3 key prefix/);
});
