/**
 * Inference observability in the synthesized stack: the model server's role may only PutObject
 * under its log prefix, the drift job's may only list and read it, the HMAC key reaches the pod from a
 * Secret only, the log prefix expires as configured, egress opens only what the logger needs, and the
 * model-serving rules and dashboard are shipped.
 */
import { INFERENCE_LOG_PREFIX } from "../../../config/inference";
import { INFERENCE_LOG_KEY_ENV } from "../../../constructs/model-endpoint/server-command";
import { envConfig, resourcesOf, synthJson } from "../../helpers/synth";

const DIGEST = `sha256:${"cd".repeat(32)}`;
const dev = envConfig("dev");
const MODEL = Object.keys(dev.serving.models)[0];
const config = envConfig("dev", {
  serving: {
    releases: { [MODEL]: { version: "2", imageDigest: DIGEST } },
    models: {
      [MODEL]: {
        inputFields: ["a", "b"],
        inferenceLog: {
          enabled: true,
          sampling: 0.5,
          contextFields: ["customer_id", "comment"],
          expireDays: 45,
          rules: [
            { field: "customer_id", kind: "hash" },
            { field: "comment", kind: "redact" },
          ],
        },
        drift: { schedule: "15 3 * * *", windowHours: 12, psiThreshold: 0.25 },
      },
    },
  },
});
const json = synthJson(config);
const text = JSON.stringify(json);
// The artifact bucket's ARN (a literal: the stack names the bucket from the configuration).
const bucketArn = (s: string) => /^arn:aws:s3:::[a-z0-9.-]+\//.test(s);
const policies = Object.values(resourcesOf(json, "aws_iam_role_policy")).map((p) => ({
  name: p.name as string,
  doc: JSON.parse(p.policy as string),
}));
const deployment = Object.values(resourcesOf(json, "kubernetes_deployment_v1")).find((d) => d.metadata.name.includes(MODEL))!;
const container = deployment.spec.template.spec.container[0];

describe("the model server's inference log", () => {
  it("may only PutObject under its own log prefix and encrypt through S3", () => {
    const p = policies.find((x) => x.name === "write-inference-log")!;
    expect(p.doc.Statement).toHaveLength(2);
    const [put, kms] = p.doc.Statement;
    expect(put.Action).toBe("s3:PutObject");
    expect(bucketArn(put.Resource) && put.Resource.endsWith(`/${INFERENCE_LOG_PREFIX}/model=${MODEL}/*`)).toBe(true);
    expect(kms).toMatchObject({
      Action: "kms:GenerateDataKey",
      Condition: { StringEquals: { "kms:ViaService": `s3.${config.aws.region}.amazonaws.com` } },
    });
  });

  it("gets its HMAC key from a generated Secret as an environment variable, never in arguments", () => {
    const env = container.env.find((e: { name: string }) => e.name === INFERENCE_LOG_KEY_ENV);
    const ref = env.value_from.secret_key_ref;
    expect(ref.key).toBe("hmac-key");
    const secret = Object.values(resourcesOf(json, "kubernetes_secret_v1")).find((s) => s.metadata.name === ref.name)!;
    expect(secret.data["hmac-key"]).toMatch(/^\$\{random_bytes\..*\.base64\}$/);
    expect(container.args.join(" ")).not.toMatch(/hmac|key=/i);
    expect(container.args).toEqual(
      expect.arrayContaining([
        "--feature-names",
        "a,b",
        "--inference-log-sampling",
        "0.5",
        "--inference-log-context-fields",
        "customer_id,comment",
      ]),
    );
    expect(JSON.parse(container.args[container.args.indexOf("--inference-log-rules") + 1])).toEqual([
      { field: "customer_id", kind: "hash" },
      { field: "comment", kind: "redact" },
    ]);
  });

  it("opens egress for DNS, the Pod Identity agent and HTTPS only (never the instance metadata)", () => {
    const np = Object.values(resourcesOf(json, "kubernetes_network_policy_v1")).find((n) => n.metadata.name === deployment.metadata.name)!;
    const egress = np.spec.egress;
    expect(egress.map((e: { ports: { port: string }[] }) => e.ports.map((p) => p.port).join("/"))).toEqual(["53/53", "80", "443"]);
    expect(egress[1].to[0].ip_block.cidr).toBe("169.254.170.23/32");
    expect(egress[2].to[0].ip_block.except).toContain("169.254.169.254/32");
  });

  it("expires the model's log prefix after the configured days", () => {
    const lc = Object.values(resourcesOf(json, "aws_s3_bucket_lifecycle_configuration")).find((l) =>
      l.rule.some((r: { id: string }) => r.id === `inference-log-${MODEL}`),
    )!;
    const rule = lc.rule.find((r: { id: string }) => r.id === `inference-log-${MODEL}`);
    expect(rule).toMatchObject({
      status: "Enabled",
      filter: [{ prefix: `${INFERENCE_LOG_PREFIX}/model=${MODEL}/` }],
      expiration: [{ days: 45 }],
    });
  });

  it("without logging the server keeps no AWS identity and no egress", () => {
    const plain = synthJson(
      envConfig("dev", {
        serving: {
          releases: { [MODEL]: { version: "2", imageDigest: DIGEST } },
          models: { [MODEL]: { inputFields: ["a", "b"], inferenceLog: { enabled: false } } },
        },
      }),
    );
    const np = Object.values(resourcesOf(plain, "kubernetes_network_policy_v1")).find((n) => n.metadata.name.includes(MODEL))!;
    expect(np.spec.egress ?? []).toEqual([]);
    expect(Object.values(resourcesOf(plain, "aws_iam_role_policy")).map((p) => p.name)).not.toContain("write-inference-log");
    expect(
      Object.values(resourcesOf(plain, "kubernetes_cron_job_v1"))
        .map((c) => c.metadata.name)
        .filter((n) => n.includes("drift")),
    ).toEqual([]);
  });
});

describe("the drift job", () => {
  const cron = Object.values(resourcesOf(json, "kubernetes_cron_job_v1")).find((c) => c.metadata.name.includes(`drift-${MODEL}`))!;
  it("runs mlflow-platform drift on the configured schedule against the released version", () => {
    expect(cron.spec.schedule).toBe("15 3 * * *");
    const c = cron.spec.job_template.spec.template.spec.container[0];
    expect(c.command).toEqual(["mlflow-platform"]);
    expect(c.args).toEqual(
      expect.arrayContaining(["drift", "--model-name", MODEL, "--model-version", "2", "--window-hours", "12", "--psi-threshold", "0.25"]),
    );
  });

  it("is admitted by the tracking server's NetworkPolicy (the reference and the monitoring run)", () => {
    const labels = cron.spec.job_template.spec.template.metadata.labels;
    const peers = Object.values(resourcesOf(json, "kubernetes_network_policy_v1")).flatMap((p) =>
      (p.spec.ingress ?? []).flatMap((r: { from?: unknown[] }) => r.from ?? []),
    );
    expect(
      peers.some(
        (p: any) =>
          p.pod_selector &&
          Object.entries(p.pod_selector.match_labels ?? {}).every(([k, v]) => labels[k] === v) &&
          labels["app.kubernetes.io/component"] === "drift-job" &&
          p.pod_selector.match_labels["app.kubernetes.io/component"] === "drift-job",
      ),
    ).toBe(true);
  });

  it("may only list and read the model's log, and decrypt through S3", () => {
    const p = policies.find((x) => x.name === "read-inference-log")!;
    const actions = p.doc.Statement.map((s: { Action: string }) => s.Action).sort();
    expect(actions).toEqual(["kms:Decrypt", "s3:GetObject", "s3:ListBucket"]);
    const list = p.doc.Statement.find((s: { Action: string }) => s.Action === "s3:ListBucket");
    expect(list.Condition.StringLike["s3:prefix"]).toEqual([`${INFERENCE_LOG_PREFIX}/model=${MODEL}/*`]);
    expect(text).not.toMatch(/"s3:(PutObject|DeleteObject)"[^\]]*read-inference-log/);
  });
});

describe("model-serving monitoring", () => {
  it("ships the PSI recording rules and the model-serving alerts with the model's threshold", () => {
    expect(text).toContain("model_server:feature_psi:1h");
    expect(text).toContain(
      `model_server:feature_psi:1h{namespace=\\\\\\"${config.serving.namespace}\\\\\\",model=\\\\\\"${MODEL}\\\\\\"} > 0.25`,
    );
    expect(text).toContain("ModelInferenceLogDropping");
  });
});
