/**
 * The Training construct off AWS: Argo's artifact repository in a Cloud Storage bucket or a Blob Storage container
 * (no static key: Workload Identity, or the Azure SDK's credentials), and the pods' identity a stack made elsewhere
 * (its annotations on the service account, its pod labels on every step's pod), with no IAM role.
 */
import { Testing, TerraformStack } from "cdktf";
import { Training, type TrainingProps } from "../../../constructs/training";
import { trainingProps } from "../../../constructs/training/from-config";
import { TRAINING } from "../../fixtures/training";
import { envConfig, resourcesOf, type TfJson } from "../../helpers/synth";

const aws = trainingProps(envConfig("dev", TRAINING), "mlflow-dev", {
  artifactStore: {
    bucketName: "b",
    bucketArn: "arn:aws:s3:::b",
    destinationUri: "s3://b/p",
    kmsKeyArn: "arn:aws:kms:eu-west-1:111111111111:key/x",
  },
});
const gke = { serviceAccountAnnotations: { "iam.gke.io/gcp-service-account": "t@p.iam.gserviceaccount.com" } };
const aks = {
  serviceAccountAnnotations: { "azure.workload.identity/client-id": "00000000-0000-0000-0000-000000000001" },
  podLabels: { "azure.workload.identity/use": "true" },
};

function synth(patch: Partial<TrainingProps>): TfJson {
  const stack = new TerraformStack(Testing.app(), "s");
  new Training(stack, "training", { ...aws, ...patch });
  return JSON.parse(Testing.synth(stack)) as TfJson;
}
const repository = (json: TfJson): string =>
  (Object.values(resourcesOf(json, "kubernetes_config_map_v1")).find((c: any) => c.metadata.name === "artifact-repositories") as any).data
    .default;
const template = (json: TfJson): any => {
  const [release] = Object.entries(resourcesOf(json, "helm_release")).filter(([k]) => k.startsWith("training_pipeline"));
  return JSON.parse((release[1] as any).values[0]).resources[0];
};
const podServiceAccount = (json: TfJson): any =>
  Object.values(resourcesOf(json, "kubernetes_service_account_v1")).find((s: any) => s.metadata.name === "training-pipeline");

describe("Argo's artifact repository in Cloud Storage, the pods' Google identity", () => {
  const json = synth({ artifacts: { kind: "gcs", bucketName: "bkt", prefix: "mlartifacts-argo" }, identity: gke });

  it("is a gcs repository under the prefix, with no service account key (Workload Identity)", () => {
    expect(repository(json)).toBe(
      ["archiveLogs: true", "gcs:", "  bucket: bkt", '  keyFormat: "mlartifacts-argo/{{workflow.name}}/{{pod.name}}"', ""].join("\n"),
    );
    expect(repository(json)).not.toMatch(/serviceAccountKeySecret|s3:/);
  });

  it("annotates the pods' service account with the Google service account and makes no IAM role", () => {
    expect(podServiceAccount(json).metadata.annotations).toEqual(gke.serviceAccountAnnotations);
    expect(resourcesOf(json, "aws_iam_role")).toEqual({});
  });
});

describe("Argo's artifact repository in Blob Storage, the pods' managed identity", () => {
  const endpoint = "https://mlflowazuredev0b1f.blob.core.windows.net";
  const json = synth({ artifacts: { kind: "azure", endpoint, container: "mlflow-artifacts", prefix: "mlartifacts-argo" }, identity: aks });

  it("is an azure repository under the prefix with the SDK's credentials, no account key", () => {
    expect(repository(json)).toBe(
      [
        "archiveLogs: true",
        "azure:",
        `  endpoint: ${endpoint}`,
        "  container: mlflow-artifacts",
        "  useSDKCreds: true",
        '  blobNameFormat: "mlartifacts-argo/{{workflow.name}}/{{pod.name}}"',
        "",
      ].join("\n"),
    );
    expect(repository(json)).not.toMatch(/accountKeySecret/);
  });

  it("every step's pod carries workload identity's label (its webhook injects the credentials only there)", () => {
    const wt = template(json);
    for (const t of wt.spec.templates.slice(1))
      expect(t.metadata.labels).toMatchObject({ "azure.workload.identity/use": "true", "app.kubernetes.io/component": "training-step" });
    expect(podServiceAccount(json).metadata.annotations).toEqual(aks.serviceAccountAnnotations);
    expect(resourcesOf(json, "aws_iam_role")).toEqual({});
  });
});

describe("the construct refuses what cannot work", () => {
  const build = (patch: Partial<TrainingProps>) => () => synth(patch);
  it("an endpoint that is not a storage account's blob endpoint", () => {
    expect(
      build({ artifacts: { kind: "azure", endpoint: "wasbs://c@a.blob.core.windows.net", container: "c", prefix: "p" }, identity: aks }),
    ).toThrow(/training: artifacts\.endpoint is .*: expected a storage account's blob endpoint/);
  });
  it("an IAM role with a Cloud Storage repository, a pod identity with an S3 one", () => {
    expect(build({ artifacts: { kind: "gcs", bucketName: "b", prefix: "p" } })).toThrow(
      /training: artifacts is .*: expected an S3 artifact/,
    );
    expect(build({ identity: gke })).toThrow(/training: identity is .*: expected an AWS identity/);
  });
  it("a prefix with a leading '/'", () => {
    expect(build({ artifacts: { kind: "gcs", bucketName: "b", prefix: "/p" }, identity: gke })).toThrow(/training: artifacts\.prefix/);
  });
});
