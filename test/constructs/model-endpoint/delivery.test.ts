import { Testing, TerraformStack } from "cdktf";
import { ModelEndpoint, type ModelEndpointProps } from "../../../constructs/model-endpoint";
import { smokeTestPodLabels } from "../../../constructs/model-endpoint/delivery";
import { smokeTestCommand } from "../../../constructs/model-endpoint/smoke-test-command";
import { ARGO_ROLLOUTS_VERSION } from "../../../constructs/argo-rollouts";
import { configProblems, envConfig, onlyResource, resourcesOf, synthJson, type TfJson } from "../../helpers/synth";

const DIGEST = `sha256:${"cd".repeat(32)}`;
const PROM = "http://prometheus-operated.monitoring.svc:9090";
const base: ModelEndpointProps = {
  modelName: "iris-classifier",
  namePrefix: "mlflow-dev",
  namespace: "models",
  release: { version: "4", imageDigest: DIGEST },
  gatewayCidrs: ["10.0.0.0/16"],
  limits: { classNames: ["setosa", "versicolor", "virginica"] },
  smokeTest: { row: [5.1, 3.5, 1.4, 0.2], expectLabel: "setosa" },
  delivery: { strategy: "blueGreen", prometheusUrl: PROM },
};

function synth(props: Partial<ModelEndpointProps> = {}): TfJson {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  new ModelEndpoint(stack, "iris", { ...base, ...props });
  return JSON.parse(Testing.synth(stack)) as TfJson;
}
const chartObjects = (j: TfJson): any[] => JSON.parse(onlyResource(j, "helm_release").values[0]).resources;
const byKind = (j: TfJson, kind: string, name?: string) =>
  chartObjects(j).filter((o) => o.kind === kind && (!name || o.metadata.name === name));

const json = synth();
const rollout = byKind(json, "Rollout")[0];
const analysis = byKind(json, "AnalysisTemplate", "mlflow-dev-iris-classifier-analysis")[0];
const smoke = byKind(json, "AnalysisTemplate", "mlflow-dev-iris-classifier-smoke")[0];

describe("ModelEndpoint blue-green delivery (Argo Rollouts)", () => {
  it("the Rollout runs the Deployment's pod template; the Deployment itself runs no pods", () => {
    const dep = onlyResource(json, "kubernetes_deployment_v1");
    expect(dep.spec.replicas).toBe("0");
    expect(dep.wait_for_rollout).toBe(false);
    expect(rollout.spec.workloadRef).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "mlflow-dev-iris-classifier",
      scaleDown: "never",
    });
    expect(rollout.spec.selector.matchLabels).toEqual(dep.spec.selector.match_labels);
    expect(rollout.spec.replicas).toBe(2);
    // The analysis is installed before the Deployment's template (the release) changes.
    expect(dep.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^helm_release\./)]));
  });

  it("switches active and preview Services; Terraform leaves the selectors Argo Rollouts sets alone", () => {
    const bg = rollout.spec.strategy.blueGreen;
    expect(bg).toMatchObject({
      activeService: "mlflow-dev-iris-classifier",
      previewService: "mlflow-dev-iris-classifier-preview",
      autoPromotionEnabled: true,
    });
    const services = Object.values(resourcesOf(json, "kubernetes_service_v1"));
    expect(services.map((s) => s.metadata.name).sort()).toEqual([bg.activeService, bg.previewService]);
    for (const s of services) expect(s.lifecycle.ignore_changes).toEqual(["spec[0].selector"]);
    expect(
      byKind(synth({ delivery: { strategy: "blueGreen", prometheusUrl: PROM, autoPromotionEnabled: false } }), "Rollout")[0].spec.strategy
        .blueGreen.autoPromotionEnabled,
    ).toBe(false);
  });

  it("runs the smoke test before promotion and the metric analysis of the new version after it", () => {
    const bg = rollout.spec.strategy.blueGreen;
    expect(bg.prePromotionAnalysis.templates).toEqual([{ templateName: smoke.metadata.name }]);
    expect(bg.postPromotionAnalysis).toEqual({
      templates: [{ templateName: analysis.metadata.name }],
      args: [{ name: "version", value: "4" }],
    });
    // The previous ReplicaSet stays up until the post-promotion analysis completed: an abort switches back to it.
    expect(bg.scaleDownDelaySeconds).toBeUndefined();
    expect(analysis.spec.args).toEqual([{ name: "version" }]);
    const names = analysis.spec.metrics.map((m: any) => m.name);
    expect(names).toEqual(["error-ratio", "p99-latency"]);
    for (const m of analysis.spec.metrics) {
      expect(m.provider.prometheus.address).toBe(PROM);
      expect(m.provider.prometheus.query).toContain('model="iris-classifier",version="{{args.version}}"');
      expect(m.failureLimit).toBe(0);
      expect(m.successCondition).toMatch(/^len\(result\) == 0 \|\| isNaN\(result\[0\]\) \|\| result\[0\] <= [\d.]+$/);
    }
    expect(analysis.spec.metrics[0].successCondition).toMatch(/<= 0.01$/);
    const strict = byKind(
      synth({ delivery: { strategy: "blueGreen", prometheusUrl: PROM, analysis: { maxErrorRatio: 0.001, maxP99Seconds: 0.1, count: 6 } } }),
      "AnalysisTemplate",
      analysis.metadata.name,
    )[0];
    expect(strict.spec.metrics.map((m: any) => [m.successCondition.split("<= ")[1], m.count])).toEqual([
      ["0.001", 6],
      ["0.1", 6],
    ]);
  });

  it("the smoke Job sends the workflow's POST /predict to the preview Service with smokeTestCommand, restricted", () => {
    const job = smoke.spec.metrics[0].provider.job;
    const pod = job.spec.template.spec;
    const c = pod.containers[0];
    const cmd = smokeTestCommand({
      image: c.image,
      url: "http://mlflow-dev-iris-classifier-preview.models.svc",
      expectVersion: "4",
      row: [5.1, 3.5, 1.4, 0.2],
      expectLabel: "setosa",
    });
    expect(c.image).toMatch(new RegExp(`@${DIGEST}$`));
    expect(c.command).toEqual(cmd.command);
    expect(c.args).toEqual(cmd.args);
    expect(c.args).toEqual(
      expect.arrayContaining(["--body", '{"data":[5.1,3.5,1.4,0.2]}', "--expect-label", "setosa", "--expect-version", "4"]),
    );
    expect(job.spec.backoffLimit).toBe(0);
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(job.spec.template.metadata.labels).toEqual(smokeTestPodLabels("mlflow-dev-iris-classifier"));
  });

  it("lets the smoke pods (and only them, besides the gateway and Prometheus) reach the model; the smoke pods reach nothing else", () => {
    const policies = Object.values(resourcesOf(json, "kubernetes_network_policy_v1"));
    const model = policies.find((p) => p.metadata.name === "mlflow-dev-iris-classifier")!;
    expect(model.spec.ingress[0].from).toContainEqual({ pod_selector: { match_labels: smokeTestPodLabels("mlflow-dev-iris-classifier") } });
    const smokePolicy = policies.find((p) => p.metadata.name === "mlflow-dev-iris-classifier-smoke-test")!;
    expect(smokePolicy.spec.policy_types).toEqual(["Ingress", "Egress"]);
    expect(smokePolicy.spec.ingress).toBeUndefined();
    expect(smokePolicy.spec.egress[1].ports).toEqual([{ port: "8080", protocol: "TCP" }]);
  });

  it("the HPA scales the Rollout, not the Deployment", () => {
    expect(onlyResource(json, "kubernetes_horizontal_pod_autoscaler_v2").spec.scale_target_ref).toEqual({
      api_version: "argoproj.io/v1alpha1",
      kind: "Rollout",
      name: "mlflow-dev-iris-classifier",
    });
  });

  it("canary: increasing weights by replica count, the smoke test on the canary Service first, background analysis", () => {
    const c = byKind(
      synth({ delivery: { strategy: "canary", prometheusUrl: PROM, canaryWeights: [10, 30, 60], pauseSeconds: 90 } }),
      "Rollout",
    )[0].spec.strategy.canary;
    expect(c.canaryService).toBe("mlflow-dev-iris-classifier-preview");
    expect(c.stableService).toBeUndefined();
    expect(c.steps).toEqual([
      { setWeight: 10 },
      { analysis: { templates: [{ templateName: "mlflow-dev-iris-classifier-smoke" }] } },
      { pause: { duration: "90s" } },
      { setWeight: 30 },
      { pause: { duration: "90s" } },
      { setWeight: 60 },
      { pause: { duration: "90s" } },
    ]);
    expect(c.analysis).toEqual({
      templates: [{ templateName: "mlflow-dev-iris-classifier-analysis" }],
      args: [{ name: "version", value: "4" }],
      startingStep: 1,
    });
  });

  it("rollingUpdate keeps the plain Deployment (no Rollout, no preview Service)", () => {
    const j = synth({ delivery: { strategy: "rollingUpdate" } });
    expect(byKind(j, "Rollout")).toEqual([]);
    expect(onlyResource(j, "kubernetes_deployment_v1").spec.replicas).toBe("2");
    expect(Object.keys(resourcesOf(j, "kubernetes_service_v1"))).toHaveLength(1);
  });

  it("refuses a progressive delivery without Prometheus, smoke request or sane weights, naming the prop", () => {
    expect(() => synth({ delivery: { strategy: "blueGreen" } })).toThrow(/delivery.prometheusUrl is .*: expected the http\(s\) URL/);
    expect(() => synth({ smokeTest: undefined })).toThrow(
      /smokeTest is unset: expected the row the new version must answer before it gets traffic \(required with the blueGreen strategy\)/,
    );
    expect(() => synth({ delivery: { strategy: "canary", prometheusUrl: PROM, canaryWeights: [50, 20] } })).toThrow(
      /delivery.canaryWeights is .*: expected increasing/,
    );
  });
});

describe("serving.delivery configuration", () => {
  const released = { serving: { releases: { "iris-classifier": { version: "2", imageDigest: DIGEST } } } };

  it("defaults to blue-green with the controller installed (pinned) and Prometheus of the monitoring namespace", () => {
    const cfg = envConfig("dev", released);
    expect(cfg.serving.delivery).toMatchObject({ strategy: "blueGreen", controller: "install", autoPromotionEnabled: true });
    const j = synthJson(cfg);
    const releases = Object.values(resourcesOf(j, "helm_release"));
    const controller = releases.find((r) => r.chart === "argo-rollouts")!;
    expect(controller.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(JSON.parse(controller.values[0]).controller.image.tag).toBe(ARGO_ROLLOUTS_VERSION);
    const endpointChart = releases.find((r) => (r.name as string).includes("iris-classifier"))!;
    expect(endpointChart.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/argo_rollouts.*release/)]));
    const tmpl = JSON.parse(endpointChart.values[0]).resources.find((o: any) => o.kind === "AnalysisTemplate" && o.spec.args);
    expect(tmpl.spec.metrics[0].provider.prometheus.address).toBe(`http://prometheus-operated.${cfg.monitoring.namespace}.svc:9090`);
  });

  it("attaches to an existing controller (no chart installed); installs one with the platform, before any release, only where models are served with Rollouts", () => {
    const controller = (j: ReturnType<typeof synthJson>) =>
      Object.values(resourcesOf(j, "helm_release")).some((r) => r.chart === "argo-rollouts");
    expect(
      controller(synthJson(envConfig("dev", { ...released, serving: { ...released.serving, delivery: { controller: "existing" } } }))),
    ).toBe(false);
    // The fixture's dev serves a model and declares no release: the platform deploy installs the controller.
    expect(Object.keys(envConfig("dev").serving.releases)).toEqual([]);
    expect(controller(synthJson(envConfig("dev")))).toBe(true);
    expect(controller(synthJson(envConfig("dev", { serving: { delivery: { strategy: "rollingUpdate" } } })))).toBe(false);
    expect(controller(synthJson(envConfig("staging")))).toBe(false);
  });

  it("every stack that installs the controller scrapes its metrics and alerts when it is down; one attached to does neither", () => {
    const monitoringObjects = (j: ReturnType<typeof synthJson>): any[] =>
      JSON.parse(Object.values(resourcesOf(j, "helm_release")).find((r) => r.name === "mlflow-monitoring")!.values[0]).resources;
    const scraped = (j: ReturnType<typeof synthJson>) => {
      const objects = monitoringObjects(j);
      const sm = objects.find((o) => o.kind === "ServiceMonitor" && o.metadata.name === "argo-rollouts-controller");
      const rule = objects
        .find((o) => o.kind === "PrometheusRule")
        .spec.groups.flatMap((g: any) => g.rules)
        .find((r: any) => r.alert === "ArgoRolloutsControllerDown");
      return { sm, rule };
    };
    const installed = synthJson(envConfig("dev"));
    const { sm, rule } = scraped(installed);
    const controller = Object.values(resourcesOf(installed, "helm_release")).find((r) => r.chart === "argo-rollouts")!;
    const ns = controller.namespace as string;
    // The ServiceMonitor names the Service the chart creates from these values (metrics enabled, its port).
    expect(JSON.parse(controller.values[0]).controller.metrics).toEqual({ enabled: true, service: { portName: "metrics", port: 8090 } });
    expect(sm.spec.namespaceSelector).toEqual({ matchNames: [ns] });
    expect(sm.spec.endpoints[0].port).toBe("metrics");
    expect(rule.expr).toBe(`absent(up{namespace="${ns}",job="argo-rollouts-metrics"} == 1)`);
    const attached = scraped(
      synthJson(envConfig("dev", { ...released, serving: { ...released.serving, delivery: { controller: "existing" } } })),
    );
    expect(attached).toEqual({ sm: undefined, rule: undefined });
  });

  it("names environment and field of a bad delivery setting", () => {
    expect(configProblems({ serving: { delivery: { strategy: "recreate" } } }).join("\n")).toMatch(
      /environment "dev": field serving.delivery.strategy/,
    );
    expect(configProblems({ serving: { delivery: { canaryWeights: [50, 20] } } }).join("\n")).toMatch(
      /serving.delivery.canaryWeights.1.*increasing weights/,
    );
    expect(
      configProblems(
        { ...released, serving: { ...released.serving, models: { "iris-classifier": { smokeTest: undefined } } } },
        "staging",
      ).join("\n"),
    ).toMatch(/serving.models.iris-classifier.smokeTest/);
  });
});
