import { Testing, TerraformStack } from "cdktf";
import { retentionCommand, modelRetentionPodLabels, ARCHIVE_TAG } from "../../../constructs/model-retention/command";
import { trackingServerUrl } from "../../../constructs/tracking-server/mlflow-command";
import { trackingServerAddress } from "../../../constructs/tracking-server/from-config";
import { ModelRetention, type ModelRetentionProps } from "../../../constructs/model-retention";
import { configured, envConfig, resourcesOf, synthJson, SHIPPED, type TfJson } from "../../helpers/synth";

const only = (json: TfJson, type: string, prefix: string) => {
  const found = Object.entries(resourcesOf(json, type)).filter(([k]) => k.startsWith(prefix));
  if (found.length !== 1) throw new Error(`expected one ${type} named ${prefix}*, found ${found.length}`);
  return found[0][1];
};

describe.each(SHIPPED)("model retention in %s", (env) => {
  const config = configured(env);
  const json = synthJson(config);
  const cron = only(json, "kubernetes_cron_job_v1", "model_retention");
  const pod = cron.spec.job_template.spec.template;
  const container = pod.spec.container[0];

  it("runs the pure command: N, the server's artifacts destination, the in-cluster tracking server", () => {
    const dest = `s3://${config.artifacts.bucketName ?? `${config.project}-${env}-artifacts-${config.aws.accountId}`}/${config.artifacts.prefix}`;
    expect(container.command).toEqual(["mlflow-platform"]);
    expect(container.args.slice(0, 6)).toEqual([
      "retention",
      "run",
      "--keep",
      String(config.registry.retention.keepVersions),
      "--artifacts-destination",
      dest,
    ]);
    expect(container.args).toEqual(retentionCommand({ config, artifactStore: { destinationUri: dest } }).args);
    expect(container.env).toContainEqual({ name: "MLFLOW_TRACKING_URI", value: trackingServerUrl(trackingServerAddress(config)) });
    expect(cron.spec.schedule).toBe(config.registry.retention.schedule);
  });

  it("is a restricted pod without a Kubernetes API token", () => {
    expect(pod.spec.automount_service_account_token).toBe(false);
    expect(pod.spec.security_context).toMatchObject({ run_as_non_root: true, seccomp_profile: { type: "RuntimeDefault" } });
    expect(container.security_context).toMatchObject({
      allow_privilege_escalation: false,
      read_only_root_filesystem: true,
      capabilities: { drop: ["ALL"] },
    });
  });

  it("may only list the prefix and read/write object tags under it", () => {
    const policy = JSON.parse(only(json, "aws_iam_role_policy", "model_retention").policy);
    const actions = policy.Statement.flatMap((s: any) => [].concat(s.Action));
    expect(actions.sort()).toEqual(["s3:GetObjectTagging", "s3:ListBucket", "s3:PutObjectTagging"]);
    const tagging = policy.Statement.find((s: any) => s.Sid === "TagArtifactObjects");
    expect(tagging.Resource).toBe(
      `arn:aws:s3:::${config.artifacts.bucketName ?? `${config.project}-${env}-artifacts-${config.aws.accountId}`}/${config.artifacts.prefix}/*`,
    );
    const list = policy.Statement.find((s: any) => s.Sid === "ListArtifactPrefix");
    expect(list.Condition).toEqual({ StringLike: { "s3:prefix": [`${config.artifacts.prefix}/*`] } });
  });

  it("is admitted by the tracking server's NetworkPolicy (its pod labels, nothing broader)", () => {
    const np = only(json, "kubernetes_network_policy_v1", "tracking_server");
    const peers = np.spec.ingress[0].from.map((f: any) => f.pod_selector?.match_labels);
    expect(peers).toContainEqual(modelRetentionPodLabels(config));
    expect(pod.metadata.labels).toMatchObject(modelRetentionPodLabels(config));
  });

  it("has a lifecycle rule filtered on the archive tag: colder class after the grace period, no deletion unless configured", () => {
    const [, lc] = Object.entries(resourcesOf(json, "aws_s3_bucket_lifecycle_configuration")).find(([k]) =>
      k.startsWith("artifact_store_lifecycle_"),
    )!;
    const rule = (lc.rule as any[]).find((r) => r.id === "model-retention-archive");
    expect(rule.filter).toEqual([{ and: [{ prefix: `${config.artifacts.prefix}/`, tags: { [ARCHIVE_TAG.key]: ARCHIVE_TAG.value } }] }]);
    expect(rule.transition).toEqual([{ days: config.registry.retention.graceDays, storage_class: config.registry.retention.storageClass }]);
    expect(rule.expiration).toEqual(
      config.registry.retention.deleteAfterDays ? [{ days: config.registry.retention.deleteAfterDays }] : undefined,
    );
  });
});

test("deletion and dry run only where configuration says so", () => {
  const config = envConfig("dev", {
    registry: { retention: { deleteAfterDays: 400, dryRun: true, servedVersions: ["iris/3"], keepVersions: 2 } },
  });
  const json = synthJson(config);
  const [, lc] = Object.entries(resourcesOf(json, "aws_s3_bucket_lifecycle_configuration")).find(([k]) =>
    k.startsWith("artifact_store_lifecycle_"),
  )!;
  expect((lc.rule as any[]).find((r) => r.id === "model-retention-archive").expiration).toEqual([{ days: 400 }]);
  expect(retentionCommand({ config, artifactStore: { destinationUri: "s3://b/p" } }).args).toEqual([
    "retention",
    "run",
    "--keep",
    "2",
    "--artifacts-destination",
    "s3://b/p",
    "--served",
    "iris/3",
    "--dry-run",
  ]);
});

describe("bad props name the field", () => {
  const base: ModelRetentionProps = {
    namespace: "mlflow",
    name: "mlflow-model-retention",
    schedule: "15 4 * * *",
    command: { image: "img:1", command: ["mlflow-platform"], args: [], env: [] },
    podLabels: { "app.kubernetes.io/component": "model-retention" },
    bucketArn: "arn:aws:s3:::b",
    artifactPrefix: "mlartifacts",
    clusterName: "c",
    accountId: "111111111111",
    region: "eu-west-1",
    roleName: "r",
  };
  const build = (p: Partial<ModelRetentionProps>) => () =>
    new ModelRetention(new TerraformStack(Testing.app(), "t"), "retention", { ...base, ...p });
  test.each([
    [{ podLabels: {} }, /retention: podLabels is \{\}: expected pod labels: it must not be empty/],
    [{ schedule: "daily" }, /retention: schedule is .*: expected a five-field cron schedule/],
    [{ name: "Retention" }, /retention: name is .*: expected a DNS label/],
    [{ artifactPrefix: "/x/" }, /retention: artifactPrefix is .*: expected an S3 key prefix/],
    [{ identityMode: "irsa" as const }, /retention: oidcProviderArn is .*: expected the cluster's IAM OIDC provider ARN/],
  ])("%j", (p, message) => {
    expect(build(p)).toThrow(message);
  });
  test("valid props synthesize", () => {
    expect(build({})).not.toThrow();
  });
});
