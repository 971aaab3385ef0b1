/**
 * DriftJob's log prefix: the inference log's partitioned layout (`<prefix>/model=<name>`) is accepted,
 * a '=' anywhere else is not (constructs/core/s3-prefix.ts).
 */
import { TerraformStack, Testing } from "cdktf";
import { AzureDriftJob, DriftJob, type AzureDriftJobProps, type DriftJobProps } from "../../../constructs/drift-job";
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
