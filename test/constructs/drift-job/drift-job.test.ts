/**
 * DriftJob's log prefix: the inference log's partitioned layout (`<prefix>/model=<name>`) is accepted,
 * a '=' anywhere else is not (constructs/core/s3-prefix.ts).
 */
import { TerraformStack, Testing } from "cdktf";
import {
  AzureDriftJob,
  DriftJob,
  GcpDriftJob,
  type AzureDriftJobProps,
  type DriftJobProps,
  type GcpDriftJobProps,
} from "../../../constructs/drift-job";
import type { TfJson } from "../../helpers/synth";
import { AZ, azureStack, only, synthJsonOf } from "../../helpers/azure-construct-stack";

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

describe("GcpDriftJob", () => {
  const gcp: GcpDriftJobProps = {
    namespace: "mlflow",
    name: "mlflow-drift-iris",
    schedule: "30 2 * * *",
    command: { image: "img:1", command: ["mlflow-platform"], args: ["drift"], env: [] },
    podLabels: { "app.kubernetes.io/component": "drift-job" },
    projectId: "example-ml-dev",
    googleServiceAccountId: "mlflow-gcp-dev-drift-iris",
    bucketName: "mlflow-dev-artifacts",
    logPrefix: "inference-log/model=iris",
  };
  const synth = (p: Partial<GcpDriftJobProps> = {}) => {
    const stack = new TerraformStack(Testing.app(), "t");
    const job = new GcpDriftJob(stack, "drift", { ...gcp, ...p });
    return { job, json: JSON.parse(Testing.synth(stack)) as TfJson };
  };

  it("runs as its own Google service account that may only list and read the model's log", () => {
    const { json } = synth();
    const r = json.resource!;
    expect(Object.values(r.google_service_account_iam_member)).toEqual([
      expect.objectContaining({ member: "serviceAccount:example-ml-dev.svc.id.goog[mlflow/mlflow-drift-iris]" }),
    ]);
    const grants = (Object.values(r.google_storage_bucket_iam_member) as Record<string, any>[])
      .map((g) => [g.role, g.condition.expression])
      .sort((a, b) => a[1].localeCompare(b[1]));
    expect(grants).toEqual([
      [
        "roles/storage.objectViewer",
        'resource.name.startsWith("projects/_/buckets/mlflow-dev-artifacts/objects/inference-log/model=iris/")',
      ],
      ["roles/storage.objectViewer", expect.stringContaining('objectListPrefix", "").startsWith("inference-log/model=iris/")')],
    ]);
    expect(Object.keys(r).filter((t) => t.startsWith("aws_"))).toEqual([]);
  });

  it("its service account carries the Google identity; the CronJob runs the command with it", () => {
    const { json } = synth();
    const sa = Object.values(json.resource!.kubernetes_service_account_v1)[0] as Record<string, any>;
    expect(sa.metadata.annotations).toEqual({
      "iam.gke.io/gcp-service-account": expect.stringMatching(/google_service_account\.\w+\.email/),
    });
    const cron = Object.values(json.resource!.kubernetes_cron_job_v1)[0] as Record<string, any>;
    const container = cron.spec.job_template.spec.template.spec.container[0];
    expect([container.name, container.args]).toEqual(["drift", ["drift"]]);
  });

  it.each([["inference-log/model=iris/"], ["mlartifacts/model==iris"]])("refuses logPrefix %j naming it", (logPrefix) => {
    expect(() => synth({ logPrefix })).toThrow(/drift: logPrefix is .*: expected an S3 key prefix/);
  });
});

describe("AzureDriftJob", () => {
  const BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs";
  const azureBase: AzureDriftJobProps = {
    namespace: "mlflow",
    name: "mlflow-drift-iris",
    schedule: "30 2 * * *",
    command: { image: "img:1", command: ["mlflow-platform"], args: ["drift"], env: [] },
    podLabels: { "app.kubernetes.io/component": "drift-job" },
    identityName: "mlflow-dev-drift-iris",
    resourceGroupName: AZ.resourceGroupName,
    location: AZ.location,
    oidcIssuerUrl: "https://westeurope.oic.prod-aks.azure.com/tenant/issuer/",
    containerScope:
      "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/mlflow",
    containerName: "mlflow",
    logPrefix: "inference-logs/model=iris",
    roleDefinition: { name: "mlflow-dev-drift-iris", scope: `/subscriptions/${AZ.subscriptionId}/resourceGroups/${AZ.resourceGroupName}` },
  };
  const synthAzureJob = (p: Partial<AzureDriftJobProps> = {}) => {
    const stack = azureStack();
    new AzureDriftJob(stack, "drift", { ...azureBase, ...p });
    return synthJsonOf(stack);
  };

  it("runs as its own managed identity, federated with the job's service account, that may only read and list the model's log", () => {
    const json = synthAzureJob();
    expect(only(json, "azurerm_federated_identity_credential").subject).toBe("system:serviceaccount:mlflow:mlflow-drift-iris");
    expect(only(json, "azurerm_role_definition").permissions[0]).toEqual({ actions: [], data_actions: [`${BLOBS}/read`] });
    const condition = only(json, "azurerm_role_assignment").condition as string;
    expect(condition).toContain(`@Resource[${BLOBS}:path] StringStartsWith 'inference-logs/model=iris/'`);
    expect(condition).toContain(`@Request[${BLOBS}:prefix] StringStartsWith 'inference-logs/model=iris/'`);
    const sa = only(json, "kubernetes_service_account_v1");
    expect(Object.keys(sa.metadata.annotations)).toEqual(["azure.workload.identity/client-id"]);
    const pod = only(json, "kubernetes_cron_job_v1").spec.job_template.spec.template;
    // The webhook injects the token only into pods labelled for it.
    expect(pod.metadata.labels).toMatchObject({ "azure.workload.identity/use": "true", "app.kubernetes.io/component": "drift-job" });
    expect(pod.spec.container[0]).toMatchObject({ name: "drift", args: ["drift"] });
    expect(json.resource?.aws_iam_role).toBeUndefined();
  });

  it.each(["inference-logs/=iris", "inference-logs/model=iris/"])("refuses logPrefix %j, naming it", (logPrefix) => {
    expect(() => synthAzureJob({ logPrefix })).toThrow(/drift: logPrefix is .*: expected an S3 key prefix/);
  });
});
