import { configured, envConfig, resourcesOf, synthJson, SHIPPED, type TfJson } from "../helpers/synth";

/** Terraform addresses a resource depends on explicitly. */
const dependsOn = (r: Record<string, any>) => (r.depends_on ?? []) as string[];

describe("stack wiring: the tracking server waits for what its pods need", () => {
  it.each(["dev", "prod"])(
    "%s: Deployment, migration Job and gc CronJob depend on the DB Secret and the Pod Identity association",
    (name) => {
      const json = synthJson(configured(name));
      const [secret] = Object.keys(resourcesOf(json, "kubernetes_secret_v1")).filter((k) => k.startsWith("backend_store"));
      // The tracking server's association (Grafana has its own, for CloudWatch).
      const [association] = Object.keys(resourcesOf(json, "aws_eks_pod_identity_association")).filter((k) =>
        k.startsWith("tracking_identity_"),
      );
      expect(secret).toBeDefined();
      expect(association).toBeDefined();
      const workloads = [
        ...Object.values(resourcesOf(json, "kubernetes_deployment_v1")).filter(
          (d) => d.metadata.labels["app.kubernetes.io/component"] === "tracking-server",
        ),
        ...Object.values(resourcesOf(json, "kubernetes_job_v1")),
        // The gc CronJob (the model-retention CronJob has its own identity and no database access).
        ...Object.values(resourcesOf(json, "kubernetes_cron_job_v1")).filter(
          (c) => c.metadata.labels["app.kubernetes.io/component"] === "garbage-collection",
        ),
      ];
      expect(workloads).toHaveLength(3);
      for (const w of workloads) {
        expect(dependsOn(w)).toEqual(
          expect.arrayContaining([`kubernetes_secret_v1.${secret}`, `aws_eks_pod_identity_association.${association}`]),
        );
      }
    },
  );

  it("with IRSA there is no association to wait for", () => {
    const json = synthJson(
      envConfig("dev", {
        identity: { mode: "irsa" },
        cluster: { oidcProviderArn: "arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC" },
      }),
    );
    expect(resourcesOf(json, "aws_eks_pod_identity_association")).toEqual({});
    const job = Object.values(resourcesOf(json, "kubernetes_job_v1"))[0];
    expect(dependsOn(job).some((d) => d.startsWith("kubernetes_secret_v1.backend_store"))).toBe(true);
  });
});

describe("platform namespace", () => {
  const labels = (name: string, overrides = {}) =>
    resourcesOf(synthJson(configured(name, overrides)), "kubernetes_namespace_v1").namespace.metadata.labels as Record<string, string>;

  it("enforces the restricted Pod Security Standard", () => {
    expect(labels("prod")["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });

  it("asks the AWS Load Balancer Controller for pod readiness gates with an ALB, not with Gateway API", () => {
    expect(labels("dev")["elbv2.k8s.aws/pod-readiness-gate-inject"]).toBe("enabled");
    const gateway = labels("dev", { ingress: { kind: "gateway-api", gatewayRef: { namespace: "gw", name: "public" } } });
    expect(gateway["elbv2.k8s.aws/pod-readiness-gate-inject"]).toBeUndefined();
  });
});

/**
 * The dependency graph Terraform builds: an edge from a resource to every resource named in its
 * `depends_on` and to every resource its body references (`${type.name...}` anywhere inside an
 * interpolation). Data sources (`data.<type>.<name>`) are not resources and are left out.
 */
function dependencyGraph(json: TfJson): Map<string, Set<string>> {
  const known = new Set<string>();
  for (const [type, byName] of Object.entries(json.resource ?? {})) for (const n of Object.keys(byName)) known.add(`${type}.${n}`);
  const graph = new Map<string, Set<string>>();
  for (const [type, byName] of Object.entries(json.resource ?? {})) {
    for (const [n, body] of Object.entries(byName)) {
      const edges = new Set<string>(dependsOn(body).filter((d) => known.has(d)));
      const rest = Object.fromEntries(Object.entries(body).filter(([k]) => k !== "depends_on"));
      for (const expr of interpolations(JSON.stringify(rest))) {
        for (const m of expr.matchAll(/(?<![\w.])([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)/g)) {
          if (known.has(`${m[1]}.${m[2]}`)) edges.add(`${m[1]}.${m[2]}`);
        }
      }
      graph.set(`${type}.${n}`, edges);
    }
  }
  return graph;
}

/** The contents of every `${...}` in `s` (nested braces balanced). */
function interpolations(s: string): string[] {
  const found: string[] = [];
  for (let i = s.indexOf("${"); i !== -1; i = s.indexOf("${", i + 2)) {
    let depth = 0;
    let j = i + 1;
    for (; j < s.length; j++) {
      if (s[j] === "{") depth++;
      else if (s[j] === "}" && --depth === 0) break;
    }
    found.push(s.slice(i + 2, j));
  }
  return found;
}

function reaches(graph: Map<string, Set<string>>, from: string, target: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const at = stack.pop()!;
    if (at === target) return true;
    if (seen.has(at)) continue;
    seen.add(at);
    stack.push(...(graph.get(at) ?? []));
  }
  return false;
}

/** The namespace a Kubernetes object (or a Helm release) is created in, as written in the JSON. */
function namespaceOf(type: string, body: Record<string, any>): unknown {
  if (type === "helm_release") return body.namespace;
  if (type === "kubernetes_manifest") return body.manifest?.metadata?.namespace;
  return body.metadata?.namespace;
}

/** Addresses of the namespaced resources in namespace `name`, whose resource is `namespaceAddress`. */
function inNamespace(json: TfJson, name: string, namespaceAddress: string): string[] {
  const ref = `\${${namespaceAddress}.`;
  const found: string[] = [];
  for (const [type, byName] of Object.entries(json.resource ?? {})) {
    if (!type.startsWith("kubernetes_") && type !== "helm_release") continue;
    if (type === "kubernetes_namespace_v1") continue;
    for (const [n, body] of Object.entries(byName)) {
      const ns = namespaceOf(type, body);
      if (ns === name || (typeof ns === "string" && ns.startsWith(ref))) found.push(`${type}.${n}`);
    }
  }
  return found;
}

describe.each(SHIPPED)("stack %s: every namespaced resource is created after its namespace", (env) => {
  const config = configured(env);
  const json = synthJson(config);
  const graph = dependencyGraph(json);
  const namespaceAddress = (name: string) => {
    const [found] = Object.entries(resourcesOf(json, "kubernetes_namespace_v1")).filter(([, b]) => b.metadata.name === name);
    return found ? `kubernetes_namespace_v1.${found[0]}` : undefined;
  };

  it("the MLflow namespace: tracking server, its jobs, the database Secret, the proxy, the ingress", () => {
    const ns = namespaceAddress(config.mlflow.namespace);
    expect(ns).toBe("kubernetes_namespace_v1.namespace");
    const members = inNamespace(json, config.mlflow.namespace, ns!);
    // The scan finds what it must (else it would check nothing).
    for (const type of [
      "kubernetes_service_v1",
      "kubernetes_network_policy_v1",
      "kubernetes_deployment_v1",
      "kubernetes_secret_v1",
      "kubernetes_cron_job_v1",
    ]) {
      expect(members.filter((a) => a.startsWith(`${type}.`)).length).toBeGreaterThanOrEqual(2 - Number(type === "kubernetes_cron_job_v1"));
    }
    expect(members.filter((a) => !reaches(graph, a, ns!))).toEqual([]);
  });

  it("the monitoring namespace (when the stack creates it)", () => {
    const ns = namespaceAddress(config.monitoring.namespace);
    // Shipped stacks install monitoring and create its namespace; in "existing" mode it is not ours.
    expect(config.monitoring.mode).toBe("install");
    expect(ns).toBeDefined();
    if (!ns) return;
    const members = inNamespace(json, config.monitoring.namespace, ns);
    expect(members.length).toBeGreaterThan(0);
    expect(members.filter((a) => !reaches(graph, a, ns))).toEqual([]);
  });
});

describe("the dependency graph the namespace check walks", () => {
  const json: TfJson = {
    resource: {
      kubernetes_namespace_v1: { ns: { metadata: { name: "mlflow" } } },
      kubernetes_secret_v1: { s: { metadata: { name: "s", namespace: "${kubernetes_namespace_v1.ns.metadata[0].name}" } } },
      kubernetes_service_v1: {
        a: { metadata: { namespace: "mlflow" }, depends_on: ["kubernetes_namespace_v1.ns"] },
        b: { metadata: { namespace: "mlflow" }, spec: { selector: { x: '${replace(kubernetes_secret_v1.s.id, "a", "b")}' } } },
        orphan: { metadata: { namespace: "mlflow" }, spec: { note: "kubernetes_namespace_v1.ns is only named in a literal" } },
      },
    },
  };
  const graph = dependencyGraph(json);

  it("follows depends_on and references, transitively, but not literal text", () => {
    expect(reaches(graph, "kubernetes_service_v1.a", "kubernetes_namespace_v1.ns")).toBe(true);
    expect(reaches(graph, "kubernetes_service_v1.b", "kubernetes_namespace_v1.ns")).toBe(true);
    expect(reaches(graph, "kubernetes_service_v1.orphan", "kubernetes_namespace_v1.ns")).toBe(false);
    expect(inNamespace(json, "mlflow", "kubernetes_namespace_v1.ns").sort()).toEqual([
      "kubernetes_secret_v1.s",
      "kubernetes_service_v1.a",
      "kubernetes_service_v1.b",
      "kubernetes_service_v1.orphan",
    ]);
  });
});

describe("monitoring settings reach every construct that needs them", () => {
  const custom = { "app.kubernetes.io/name": "prometheus", prometheus: "platform" };
  const json = synthJson(
    envConfig("staging", { monitoring: { prometheusPodLabels: custom, runbookBaseUrl: "https://git.example.com/platform/README.md" } }),
  );

  it("monitoring.prometheusPodLabels selects the Prometheus pods in both NetworkPolicies", () => {
    // Policies of the platform's workloads; the monitoring namespace's own policies admit its own pods.
    const policies = Object.values(resourcesOf(json, "kubernetes_network_policy_v1")).filter((p) => p.metadata.namespace !== "monitoring");
    const peers = policies
      .flatMap((p) => (p.spec.ingress ?? []).flatMap((rule: any) => rule.from ?? []))
      .filter((peer: any) => peer.namespace_selector?.match_labels?.["kubernetes.io/metadata.name"] === "monitoring");
    expect(peers.length).toBeGreaterThanOrEqual(2);
    for (const peer of peers) expect(peer.pod_selector.match_labels).toEqual(custom);
  });

  it("monitoring.runbookBaseUrl is where the alerts' runbook links point", () => {
    expect(JSON.stringify(json)).toContain("https://git.example.com/platform/README.md#mlflowtrackingserverdown");
  });

  it("an empty label set is refused before synthesis", () => {
    expect(() => envConfig("dev", { monitoring: { prometheusPodLabels: {} } })).toThrow(
      /field monitoring\.prometheusPodLabels = \{\}: expected at least one label/,
    );
  });
});
