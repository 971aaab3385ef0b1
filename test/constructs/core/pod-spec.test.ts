import {
  PROMETHEUS_OPERATOR_POD_LABELS,
  containerResources,
  httpGetProbe,
  labelSelectorProblem,
  prometheusPeer,
  topologySpread,
} from "../../../constructs/core/pod-spec";

describe("shared pod-spec pieces", () => {
  it("resources: a CPU limit only when one is set", () => {
    expect(containerResources({ requests: { cpu: "250m", memory: "1Gi" }, limits: { memory: "2Gi" } })).toEqual({
      requests: { cpu: "250m", memory: "1Gi" },
      limits: { memory: "2Gi" },
    });
    expect(containerResources({ requests: { cpu: "250m", memory: "1Gi" }, limits: { memory: "2Gi", cpu: "1" } }).limits).toEqual({
      memory: "2Gi",
      cpu: "1",
    });
  });

  it("probes write a scheme only when given; spreads write matchLabelKeys only when given", () => {
    expect(httpGetProbe({ path: "/health", port: "http", periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 }).httpGet).toEqual({
      path: "/health",
      port: "http",
    });
    expect(
      httpGetProbe({ path: "/ping", port: "http", scheme: "HTTP", periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 }).httpGet
        .scheme,
    ).toBe("HTTP");
    expect(topologySpread("kubernetes.io/hostname", "ScheduleAnyway", { a: "b" })).toEqual({
      maxSkew: 1,
      topologyKey: "kubernetes.io/hostname",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: [{ matchLabels: { a: "b" } }],
    });
    expect(topologySpread("topology.kubernetes.io/zone", "DoNotSchedule", { a: "b" }, ["pod-template-hash"]).matchLabelKeys).toEqual([
      "pod-template-hash",
    ]);
  });

  it("the Prometheus peer selects the namespace AND the pods, in one peer", () => {
    expect(prometheusPeer("monitoring", PROMETHEUS_OPERATOR_POD_LABELS)).toEqual({
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
      podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
    });
  });

  it("label selectors: accepts valid labels, names what is wrong otherwise", () => {
    expect(labelSelectorProblem({ "app.kubernetes.io/name": "prometheus", release: "kube-prometheus-stack", empty: "" })).toBeUndefined();
    expect(labelSelectorProblem({})).toMatch(/must not be empty/);
    expect(labelSelectorProblem({ "Bad_Prefix/name": "x" })).toMatch(/invalid label key "Bad_Prefix\/name"/);
    expect(labelSelectorProblem({ app: "-x" })).toMatch(/invalid value "-x" for app/);
    expect(labelSelectorProblem({ app: "a".repeat(64) })).toMatch(/invalid value/);
  });
});
