/**
 * A ModelEndpoint on a cluster of another cloud: its image repository is a registry the stack already has
 * (Artifact Registry, ACR) and its inference log goes to that cloud's store with an identity the stack made.
 * Nothing of AWS is made then, and what only configures ECR is refused.
 */
import { Testing, TerraformStack } from "cdktf";
import { ModelEndpoint, modelServerName, type ModelEndpointProps } from "../../../constructs/model-endpoint";
import type { ObjectStoreInferenceLog } from "../../../constructs/model-endpoint/inference-log";
import { modelServerCommand } from "../../../constructs/model-endpoint/server-command";
import { driftCommand } from "../../../constructs/drift-job/command";
import { onlyResource, synthJson, envConfig, type TfJson } from "../../helpers/synth";

const DIGEST = `sha256:${"cd".repeat(32)}`;
const REPO = "europe-west1-docker.pkg.dev/acme-ml/mlflow-dev/iris";
const log: ObjectStoreInferenceLog = {
  destination: "gs://acme-mlflow-dev-artifacts",
  prefix: "inference-logs",
  identity: { serviceAccountAnnotations: { "iam.gke.io/gcp-service-account": "model-iris@acme-ml.iam.gserviceaccount.com" } },
  egress: [{ why: "Google APIs", peers: [{ cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] }], ports: [{ port: 443 }] }],
  contextFields: ["region"],
};
const base: ModelEndpointProps = {
  modelName: "iris",
  namePrefix: "mlflow-dev",
  namespace: "models",
  release: { version: "3", imageDigest: DIGEST },
  gatewayCidrs: ["10.0.0.0/16"],
  imageRepository: { repositoryUrl: REPO },
  inputFields: ["a", "b", "c", "d"],
};

function synth(props: Partial<ModelEndpointProps> = {}): TfJson {
  const stack = new TerraformStack(Testing.app(), "test");
  new ModelEndpoint(stack, "iris", { ...base, ...props });
  return JSON.parse(Testing.synth(stack)) as TfJson;
}
const build = (props: Partial<ModelEndpointProps>) => () => synth(props);
const types = (json: TfJson) => Object.keys((json as { resource?: Record<string, unknown> }).resource ?? {});

describe("ModelEndpoint with an image repository of another registry", () => {
  const json = synth();
  it("runs the repository's image by digest and makes no ECR repository, key or push policy", () => {
    const container = onlyResource(json, "kubernetes_deployment_v1").spec.template.spec.container[0];
    expect(container.image).toBe(`${REPO}@${DIGEST}`);
    expect(types(json).filter((t) => t.startsWith("aws_"))).toEqual([]);
  });

  it.each(["keepImages", "expireTagPrefixes", "kmsKeyArn", "keyAdministratorArns", "pullerRoleArns"] as const)(
    "refuses %s, which only configures the ECR repository it does not make",
    (prop) => {
      const value = { keepImages: 3, expireTagPrefixes: { "dev-": 2 }, kmsKeyArn: "k", keyAdministratorArns: [], pullerRoleArns: [] }[prop];
      expect(build({ [prop]: value })).toThrow(new RegExp(`${prop} is .*: expected nothing with imageRepository`));
    },
  );

  it.each(["europe-west1-docker.pkg.dev/p/r/iris:3", `${REPO}@${DIGEST}`, "https://acr.azurecr.io/iris", "Upper.io/x", "host-only"])(
    "refuses the repository URL %s (a tag, a digest, a scheme, upper case, no path)",
    (repositoryUrl) => {
      expect(build({ imageRepository: { repositoryUrl } })).toThrow(/imageRepository.repositoryUrl is .*without tag or digest/);
    },
  );
});

describe("ModelEndpoint logging into another cloud's store", () => {
  const json = synth({ inferenceLog: log });
  const deployment = onlyResource(json, "kubernetes_deployment_v1");
  const container = deployment.spec.template.spec.container[0];

  it("starts the server with the store as its destination, and no AWS region", () => {
    const args: string[] = container.args;
    expect(args[args.indexOf("--inference-log-destination") + 1]).toBe("gs://acme-mlflow-dev-artifacts");
    expect(args[args.indexOf("--inference-log-prefix") + 1]).toBe("inference-logs");
    expect(args).not.toContain("--inference-log-bucket");
    expect((container.env as { name: string }[]).map((e) => e.name)).not.toContain("AWS_DEFAULT_REGION");
  });

  it("runs as the service account the identity was bound to, with its annotations, and makes no IAM role", () => {
    const sa = onlyResource(json, "kubernetes_service_account_v1");
    expect(sa.metadata.name).toBe(modelServerName("mlflow-dev", "iris"));
    expect(sa.metadata.annotations).toEqual(log.identity.serviceAccountAnnotations);
    expect(types(json).filter((t) => t.startsWith("aws_"))).toEqual([]);
  });

  it("puts the identity's pod labels on the pods, never in the immutable selector", () => {
    const azure = synth({
      inferenceLog: { ...log, identity: { serviceAccountAnnotations: {}, podLabels: { "azure.workload.identity/use": "true" } } },
    });
    const d = onlyResource(azure, "kubernetes_deployment_v1");
    expect(d.spec.template.metadata.labels["azure.workload.identity/use"]).toBe("true");
    expect(d.spec.selector.match_labels["azure.workload.identity/use"]).toBeUndefined();
    expect(onlyResource(azure, "kubernetes_service_account_v1").metadata.annotations).toBeUndefined();
  });

  it("lets the pods out to DNS and the flows given, and nowhere else (no Pod Identity agent, no metadata service)", () => {
    const egress = onlyResource(json, "kubernetes_network_policy_v1").spec.egress;
    expect(egress).toEqual([
      {
        ports: [
          { port: "53", protocol: "UDP" },
          { port: "53", protocol: "TCP" },
        ],
      },
      { to: [{ ip_block: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] } }], ports: [{ port: "443", protocol: "TCP" }] },
    ]);
  });

  it.each([
    ["gs://bucket/inference-logs", /inferenceLog.destination/],
    ["s3://bucket", /inferenceLog.destination/],
    ["wasbs://mlflow@acct.blob.core.windows.net/x", /inferenceLog.destination/],
    ["wasbs://Mlflow@acct.blob.core.windows.net", /inferenceLog.destination/],
  ])("refuses the destination %s (a prefix in it, another scheme, an invalid container)", (destination, error) => {
    expect(build({ inferenceLog: { ...log, destination } })).toThrow(error);
  });

  it("accepts an Azure container's store", () => {
    expect(build({ inferenceLog: { ...log, destination: "wasbs://mlflow@acmemlflowdev.blob.core.windows.net" } })).not.toThrow();
  });

  it("refuses a log without egress: the NetworkPolicy would deny the store", () => {
    expect(build({ inferenceLog: { ...log, egress: [] } })).toThrow(/inferenceLog.egress/);
  });
});

describe("the server and drift commands on another cloud", () => {
  it("refuses both an S3 bucket and a destination", () => {
    expect(() =>
      modelServerCommand({
        image: "i",
        modelName: "m",
        modelVersion: "1",
        maxConcurrency: 1,
        maxBodyBytes: 1024,
        callerHeader: "X",
        callerRate: 1,
        callerBurst: 1,
        requestTimeoutSeconds: 1,
        classNames: [],
        inferenceLog: {
          bucketName: "b",
          destination: "gs://b",
          prefix: "p",
          sampling: 1,
          contextFields: [],
          rules: [],
          batchRecords: 1,
          flushSeconds: 1,
        },
      }),
    ).toThrow(/either an S3 bucketName or a destination/);
  });

  const config = envConfig("dev", {
    serving: {
      models: {
        iris: { inputFields: ["a", "b"], inferenceLog: { enabled: true }, drift: { enabled: true }, smokeTest: { row: [1, 2] } },
      },
      releases: { iris: { version: "3", imageDigest: DIGEST } },
    },
  } as never);

  it("reads the log from the source on another cloud, without an AWS region", () => {
    const gcp = { ...config, aws: undefined };
    const cmd = driftCommand({ config: gcp, modelName: "iris", source: "gs://acme-artifacts" });
    expect(cmd.args.slice(cmd.args.indexOf("--source"), cmd.args.indexOf("--source") + 2)).toEqual(["--source", "gs://acme-artifacts"]);
    expect(cmd.args).not.toContain("--bucket");
    expect(cmd.env.map((e) => e.name)).not.toContain("AWS_DEFAULT_REGION");
    // The AWS command is unchanged.
    const aws = driftCommand({ config, modelName: "iris", bucketName: "b" });
    expect(aws.args).toContain("--bucket");
    expect(aws.env.map((e) => e.name)).toContain("AWS_DEFAULT_REGION");
  });

  it("refuses both a bucket and a source, or neither", () => {
    expect(() => driftCommand({ config, modelName: "iris", bucketName: "b", source: "gs://b" })).toThrow(/not both/);
    expect(() => driftCommand({ config, modelName: "iris" })).toThrow(/not both/);
  });

  it("keeps an AWS environment's endpoints as they were: an ECR repository each", () => {
    const withModel = synthJson(config);
    expect(Object.keys((withModel as { resource: Record<string, unknown> }).resource)).toContain("aws_ecr_repository");
  });
});
