import { Testing, TerraformStack } from "cdktf";
import { ModelEndpoint, modelServerPodLabels, type ModelEndpointProps } from "../../../constructs/model-endpoint";
import { modelEndpointProps } from "../../../constructs/model-endpoint/from-config";
import { MODEL_DIR, modelServerCommand } from "../../../constructs/model-endpoint/server-command";
import { configProblems, envConfig, onlyResource, resourcesOf, synthJson, type TfJson } from "../../helpers/synth";
import { lifecyclePolicyProblems, releaseTag, ruleSelecting, type EcrLifecycleRule } from "../../../constructs/core/ecr-rules";

const DIGEST = `sha256:${"ab".repeat(32)}`;
const base: ModelEndpointProps = {
  modelName: "iris-classifier",
  namePrefix: "mlflow-dev",
  namespace: "models",
  release: { version: "3", imageDigest: DIGEST },
  gatewayCidrs: ["10.0.0.0/16"],
  limits: { classNames: ["setosa", "versicolor", "virginica"] },
};

function synth(props: Partial<ModelEndpointProps> = {}): TfJson {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  new ModelEndpoint(stack, "iris", { ...base, ...props });
  return JSON.parse(Testing.synth(stack)) as TfJson;
}

const json = synth();
const deployment = onlyResource(json, "kubernetes_deployment_v1");
const pod = deployment.spec.template.spec;
const container = pod.container[0];

describe("ModelEndpoint image repository", () => {
  it("has immutable tags, scan on push, a KMS key and keeps the last N unreleased images", () => {
    const repo = onlyResource(json, "aws_ecr_repository");
    expect(repo.name).toBe("mlflow-dev/iris-classifier");
    expect(repo.image_tag_mutability).toBe("IMMUTABLE");
    expect(repo.image_scanning_configuration.scan_on_push).toBe(true);
    expect(repo.encryption_configuration[0]).toMatchObject({ encryption_type: "KMS" });
    expect(repo.encryption_configuration[0].kms_key).toMatch(/aws_kms_key\..*\.arn/);
    expect(onlyResource(json, "aws_kms_key").enable_key_rotation).toBe(true);
    const policy = JSON.parse(onlyResource(json, "aws_ecr_lifecycle_policy").policy);
    expect(policy.rules[0].selection).toEqual({ tagStatus: "untagged", countType: "imageCountMoreThan", countNumber: 10 });
    expect(JSON.parse(onlyResource(synth({ keepImages: 3 }), "aws_ecr_lifecycle_policy").policy).rules[0].selection.countNumber).toBe(3);
    expect(repo.lifecycle).toBeUndefined();
    const guarded = synth({ preventDestroy: true });
    expect(onlyResource(guarded, "aws_ecr_repository").lifecycle.prevent_destroy).toBe(true);
    expect(onlyResource(guarded, "aws_kms_key").lifecycle.prevent_destroy).toBe(true);
  });

  it("never expires a released image: no rule selects a release's tag, whatever the counts and other prefixes", () => {
    for (const props of [{}, { keepImages: 1 }, { keepImages: 1, expireTagPrefixes: { "dev-": 1, "pr-": 2 } }]) {
      const rules = JSON.parse(onlyResource(synth(props), "aws_ecr_lifecycle_policy").policy).rules as EcrLifecycleRule[];
      expect(lifecyclePolicyProblems(rules)).toEqual([]);
      expect(ruleSelecting(rules, [releaseTag("3", DIGEST)])).toBeUndefined();
      // A digest released twice (two versions built alike) carries two release tags: still selected by no rule.
      expect(ruleSelecting(rules, [releaseTag("3", DIGEST), releaseTag("4", DIGEST)])).toBeUndefined();
      // Unreleased pushes (by digest, untagged) expire beyond the count.
      expect(ruleSelecting(rules, [])?.selection).toMatchObject({ tagStatus: "untagged" });
    }
    const withDev = JSON.parse(onlyResource(synth({ expireTagPrefixes: { "dev-": 5 } }), "aws_ecr_lifecycle_policy").policy)
      .rules as EcrLifecycleRule[];
    expect(ruleSelecting(withDev, ["dev-42"])?.selection).toMatchObject({ tagPrefixList: ["dev-"], countNumber: 5 });
    // The rule before: any image, counted (a release's digest past the 10th push expired).
    expect(
      ruleSelecting(
        [
          {
            rulePriority: 1,
            selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 10 },
            action: { type: "expire" },
          },
        ],
        [releaseTag("3", DIGEST)],
      ),
    ).toBeDefined();
    // Refused at synth, naming the environment and the field.
    expect(configProblems({ serving: { expireTagPrefixes: { "release-v": 2 } } }).join("\n")).toMatch(
      /environment "dev": field serving.expireTagPrefixes.release-v = 2: expected a tag prefix that cannot match a release's tag/,
    );
    expect(configProblems({ serving: { expireTagPrefixes: { r: 2 } } }).join("\n")).toMatch(
      /field serving.expireTagPrefixes.r = 2: expected a tag prefix that cannot match/,
    );
    expect(() => synth({ expireTagPrefixes: { rel: 3 } })).toThrow(
      /expireTagPrefixes is \{"rel":3\}: expected prefixes that make a lifecycle policy ECR accepts and that never expires a released image: rule 2: a tag prefix that cannot match a release's tag/,
    );
  });

  it("the pipeline's push policy names this repository only (login aside, which AWS requires on *), and lets the scan gate read the scan", () => {
    const doc = JSON.parse(onlyResource(json, "aws_iam_policy").policy);
    const push = doc.Statement.find((s: any) => s.Sid === "PushThisModel");
    expect(push.Resource).toMatch(/aws_ecr_repository\..*\.arn/);
    // aws ecr wait image-scan-complete and describe-image-scan-findings (release-model.yml's scan gate).
    expect(push.Action).toEqual(expect.arrayContaining(["ecr:DescribeImageScanFindings", "ecr:DescribeImages", "ecr:PutImage"]));
    expect(doc.Statement.filter((s: any) => s.Resource === "*").map((s: any) => s.Action)).toEqual([["ecr:GetAuthorizationToken"]]);
  });

  it("without a release only the repository exists (the first image needs it)", () => {
    const j = synth({ release: undefined });
    expect(Object.keys(resourcesOf(j, "aws_ecr_repository"))).toHaveLength(1);
    expect(resourcesOf(j, "kubernetes_deployment_v1")).toEqual({});
  });
});

describe("ModelEndpoint workload", () => {
  it("runs modelServerCommand, from the image digest", () => {
    const cmd = modelServerCommand({
      image: container.image,
      modelName: "iris-classifier",
      modelVersion: "3",
      maxConcurrency: 8,
      maxBodyBytes: 1_048_576,
      callerHeader: "X-Caller-Id",
      callerRate: 50,
      callerBurst: 100,
      requestTimeoutSeconds: 30,
      classNames: ["setosa", "versicolor", "virginica"],
    });
    expect(container.image).toMatch(new RegExp(`repository_url}@${DIGEST}$`));
    expect(container.command).toEqual(cmd.command);
    expect(container.args).toEqual(cmd.args);
    expect(container.args).toEqual(
      expect.arrayContaining(["--model-dir", MODEL_DIR, "--model-version", "3", "--class-names", "setosa,versicolor,virginica"]),
    );
  });

  it("is restricted: non-root, read-only root, no capabilities, no service account token, no AWS identity", () => {
    expect(pod.security_context).toMatchObject({ run_as_non_root: true, seccomp_profile: { type: "RuntimeDefault" } });
    expect(container.security_context).toMatchObject({
      read_only_root_filesystem: true,
      allow_privilege_escalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(pod.automount_service_account_token).toBe(false);
    expect(resourcesOf(json, "aws_iam_role")).toEqual({});
    expect(resourcesOf(json, "aws_eks_pod_identity_association")).toEqual({});
  });

  it("is ready on /ping (model loaded, traffic port), alive on /health (admin port)", () => {
    expect(container.readiness_probe.http_get).toMatchObject({ path: "/ping", port: "http" });
    expect(container.liveness_probe.http_get).toMatchObject({ path: "/health", port: "metrics" });
    expect(container.startup_probe.http_get).toMatchObject({ path: "/health", port: "metrics" });
  });

  it("has a Service, an HPA, a PDB and a ServiceMonitor on the named port", () => {
    const svc = onlyResource(json, "kubernetes_service_v1");
    expect(svc.spec.type).toBe("ClusterIP");
    expect(svc.spec.selector).toEqual(modelServerPodLabels("mlflow-dev", "iris-classifier"));
    expect(onlyResource(json, "kubernetes_horizontal_pod_autoscaler_v2").spec.max_replicas).toBe(4);
    expect(onlyResource(json, "kubernetes_pod_disruption_budget_v1").spec.max_unavailable).toBe("1");
    const values = JSON.parse(onlyResource(json, "helm_release").values[0]);
    expect(values.resources[0]).toMatchObject({ kind: "ServiceMonitor", spec: { endpoints: [{ port: "metrics", path: "/metrics" }] } });
    expect(svc.spec.port.map((p: any) => [p.name, p.port, p.target_port])).toEqual([
      ["http", 80, "http"],
      ["metrics", 9090, "metrics"],
    ]);
    const one = synth({ replicas: { min: 1, max: 1 } });
    expect(resourcesOf(one, "kubernetes_pod_disruption_budget_v1")).toEqual({});
    expect(resourcesOf(one, "kubernetes_horizontal_pod_autoscaler_v2")).toEqual({});
  });

  it("admits only the gateway path to the traffic port and Prometheus to the admin port, and denies all egress", () => {
    const np = onlyResource(json, "kubernetes_network_policy_v1");
    expect(np.spec.policy_types).toEqual(["Ingress", "Egress"]);
    expect(np.spec.egress).toBeUndefined();
    const [traffic, admin] = np.spec.ingress;
    expect(traffic.from).toEqual([{ ip_block: { cidr: "10.0.0.0/16" } }]);
    expect(traffic.ports).toEqual([{ port: "8080", protocol: "TCP" }]);
    expect(admin.from).toHaveLength(1);
    expect(admin.from[0].namespace_selector.match_labels).toEqual({ "kubernetes.io/metadata.name": "monitoring" });
    expect(admin.ports).toEqual([{ port: "9090", protocol: "TCP" }]);
    const withProxy = onlyResource(
      synth({ gatewayCidrs: [], gatewayPodLabels: { app: "proxy" }, gatewayNamespace: "mlflow" }),
      "kubernetes_network_policy_v1",
    );
    expect(withProxy.spec.ingress[0].from[0]).toEqual({
      namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "mlflow" } },
      pod_selector: { match_labels: { app: "proxy" } },
    });
  });

  it("refuses props that would deploy something unsafe or broken, naming the prop", () => {
    expect(() => synth({ release: { version: "3", imageDigest: "latest" } })).toThrow(
      /release.imageDigest is .*: expected "sha256:<64 hex>"/,
    );
    expect(() => synth({ gatewayCidrs: [] })).toThrow(
      /gatewayCidrs is \[\]: expected CIDRs \(or gatewayPodLabels\) naming who may call the model/,
    );
    expect(() => synth({ modelName: "Iris_Classifier" })).toThrow(/modelName is .*: expected lower-case/);
    expect(() => synth({ gatewayPodLabels: {}, gatewayCidrs: [] })).toThrow(
      /gatewayPodLabels is \{\}: expected labels of the calling pods: they must not be empty/,
    );
    expect(() => synth({ limits: { maxConcurrency: 0 } })).toThrow(/limits.maxConcurrency is .*: expected a whole number from 1 to 256/);
  });
});

describe("serving configuration", () => {
  it("dev declares the example model; the shipped releases deploy nothing yet (the ECR repository only)", () => {
    const dev = envConfig("dev");
    expect(Object.keys(dev.serving.models)).toEqual(["iris-classifier"]);
    const j = synthJson(dev);
    expect(Object.values(resourcesOf(j, "aws_ecr_repository")).map((r) => r.name)).toEqual(["mlflow-dev/iris-classifier"]);
    expect(Object.values(resourcesOf(j, "kubernetes_deployment_v1")).some((d) => d.metadata.name.includes("iris"))).toBe(false);
  });

  it("a release in config turns into a Deployment of that digest in a restricted namespace", () => {
    const dev = envConfig("dev", { serving: { releases: { "iris-classifier": { version: "1", imageDigest: DIGEST } } } });
    const props = modelEndpointProps(dev, "mlflow-dev")["iris-classifier"];
    expect(props.release).toEqual({ version: "1", imageDigest: DIGEST });
    const j = synthJson(dev);
    const d = Object.values(resourcesOf(j, "kubernetes_deployment_v1")).find((x) => x.metadata.name === "mlflow-dev-iris-classifier");
    expect(d?.spec.template.spec.container[0].image).toContain(`@${DIGEST}`);
    const ns = Object.values(resourcesOf(j, "kubernetes_namespace_v1")).find((n) => n.metadata.name === "models");
    expect(ns?.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });

  it("names the environment and field of a bad release", () => {
    expect(configProblems({ serving: { releases: { "iris-classifier": { version: "1", imageDigest: "v1" } } } }).join("\n")).toMatch(
      /environment "dev": field serving.releases.iris-classifier.imageDigest.*sha256/,
    );
    expect(configProblems({ serving: { releases: { "other-model": { version: "1", imageDigest: DIGEST } } } }).join("\n")).toMatch(
      /serving.releases.other-model.*declared in serving.models/,
    );
  });
});
