/**
 * The provider-JSON-to-API-object converter on its own, against a small schema written in the shape
 * the kube-apiserver serves (OpenAPI v3: $ref, allOf wrappers, int-or-string, maps). The real schemas
 * and the real stacks are exercised by the Kubernetes API check (`npm run test:kube`).
 */
import {
  Converter,
  kindOfType,
  NOT_OBJECTS,
  placeholderFor,
  plural,
  podFromTemplate,
  podTemplates,
  replaceReferences,
  type KindInfo,
  type Schema,
  type SchemaSource,
} from "./convert";

const ref = (name: string): Schema => ({ allOf: [{ $ref: `#/components/schemas/${name}` }], default: {} });
const str: Schema = { type: "string" };
const int: Schema = { type: "integer", format: "int32" };
const map: Schema = { type: "object", additionalProperties: { type: "string", default: "" } };
const list = (name: string): Schema => ({ type: "array", items: ref(name) });
const gvk = (group: string, version: string, kind: string) => ({ "x-kubernetes-group-version-kind": [{ group, version, kind }] });

const SCHEMAS: Record<string, Schema> = {
  Deployment: {
    type: "object",
    ...gvk("apps", "v1", "Deployment"),
    properties: { apiVersion: str, kind: str, metadata: ref("ObjectMeta"), spec: ref("DeploymentSpec") },
  },
  CronJob: {
    type: "object",
    ...gvk("batch", "v1", "CronJob"),
    properties: {
      metadata: ref("ObjectMeta"),
      spec: {
        type: "object",
        properties: {
          schedule: str,
          jobTemplate: { type: "object", properties: { spec: { type: "object", properties: { template: ref("PodTemplateSpec") } } } },
        },
      },
    },
  },
  Secret: {
    type: "object",
    ...gvk("", "v1", "Secret"),
    properties: {
      metadata: ref("ObjectMeta"),
      data: { type: "object", additionalProperties: { type: "string", format: "byte" } },
      type: str,
    },
  },
  ObjectMeta: { type: "object", properties: { name: str, namespace: str, labels: map, annotations: map } },
  DeploymentSpec: {
    type: "object",
    properties: { replicas: int, selector: ref("LabelSelector"), strategy: ref("Strategy"), template: ref("PodTemplateSpec") },
  },
  LabelSelector: { type: "object", properties: { matchLabels: map } },
  Strategy: { type: "object", properties: { type: str, rollingUpdate: ref("RollingUpdate") } },
  RollingUpdate: { type: "object", properties: { maxSurge: ref("IntOrString"), maxUnavailable: ref("IntOrString") } },
  // Built-in types mark int-or-string by format (CRDs by x-kubernetes-int-or-string).
  IntOrString: { type: "string", format: "int-or-string" },
  PodTemplateSpec: { type: "object", properties: { metadata: ref("ObjectMeta"), spec: ref("PodSpec") } },
  PodSpec: {
    type: "object",
    properties: {
      containers: list("Container"),
      serviceAccountName: str,
      hostIPC: { type: "boolean" },
      securityContext: ref("PodSecurityContext"),
      topologySpreadConstraints: list("TopologySpreadConstraint"),
      volumes: list("Volume"),
    },
  },
  PodSecurityContext: {
    type: "object",
    properties: { runAsUser: { type: "integer", format: "int64" }, runAsNonRoot: { type: "boolean" } },
  },
  TopologySpreadConstraint: { type: "object", properties: { maxSkew: int, topologyKey: str, labelSelector: ref("LabelSelector") } },
  Volume: { type: "object", properties: { name: str, secret: { type: "object", properties: { secretName: str, defaultMode: int } } } },
  Container: {
    type: "object",
    properties: {
      name: str,
      image: str,
      args: { type: "array", items: str },
      ports: list("ContainerPort"),
      env: list("EnvVar"),
      volumeMounts: list("VolumeMount"),
      livenessProbe: ref("Probe"),
      resources: { type: "object", properties: { limits: { type: "object", additionalProperties: ref("Quantity") } } },
    },
  },
  Quantity: { type: "string" },
  ContainerPort: { type: "object", properties: { name: str, containerPort: int, protocol: str } },
  EnvVar: { type: "object", properties: { name: str, value: str } },
  VolumeMount: { type: "object", properties: { name: str, mountPath: str, readOnly: { type: "boolean" } } },
  Probe: {
    type: "object",
    properties: { httpGet: { type: "object", properties: { path: str, port: ref("IntOrString") } }, periodSeconds: int },
  },
};

const source: SchemaSource = {
  root: (apiVersion, kind) =>
    Object.values(SCHEMAS).find(
      (s) => (s["x-kubernetes-group-version-kind"] as { kind: string }[] | undefined)?.[0].kind === kind && apiVersion !== "",
    ),
  resolve: (s) => {
    let cur = s;
    while (cur.$ref || (cur.allOf?.length === 1 && cur.allOf[0].$ref && !cur.properties)) {
      cur = cur.$ref ? SCHEMAS[cur.$ref.split("/").pop()!] : SCHEMAS[cur.allOf![0].$ref!.split("/").pop()!];
    }
    return cur;
  },
};
const KINDS: Record<string, KindInfo> = {
  Deployment: { apiVersion: "apps/v1", kind: "Deployment", resource: "deployments", namespaced: true },
  CronJob: { apiVersion: "batch/v1", kind: "CronJob", resource: "cronjobs", namespaced: true },
  Secret: { apiVersion: "v1", kind: "Secret", resource: "secrets", namespaced: true },
};
const converter = new Converter(source, (kind) => KINDS[kind]);

/** Shaped like the provider's JSON in cdktf.out (see kubernetes_deployment_v1 in any stack). */
const deployment = {
  "//": { metadata: { path: "x" } },
  depends_on: ["kubernetes_namespace_v1.namespace"],
  wait_for_rollout: true,
  metadata: { name: "web", namespace: "apps", labels: { "app.kubernetes.io/name": "web", replicas: "1" } },
  spec: {
    replicas: "2",
    selector: { match_labels: { "app.kubernetes.io/name": "web" } },
    strategy: { type: "RollingUpdate", rolling_update: { max_surge: "1", max_unavailable: "25%" } },
    template: {
      metadata: { labels: { "app.kubernetes.io/name": "web" } },
      spec: {
        host_ipc: false,
        service_account_name: "web",
        security_context: { run_as_user: "65532", run_as_non_root: true },
        container: [
          {
            name: "web",
            image: "web:1",
            args: ["--port", "8080"],
            port: [{ name: "http", container_port: 8080, protocol: "TCP" }],
            env: [{ name: "WORKERS", value: "4" }],
            volume_mount: [{ name: "tls", mount_path: "/tls", read_only: true }],
            liveness_probe: { http_get: { path: "/ping", port: "http" }, period_seconds: 10 },
            resources: { limits: { memory: "256Mi", cpu: "1" } },
          },
        ],
        topology_spread_constraint: [{ max_skew: 1, topology_key: "zone", label_selector: [{ match_labels: { app: "web" } }] }],
        volume: [{ name: "tls", secret: { secret_name: "tls", default_mode: "0440" } }],
      },
    },
  },
};

describe("Converter", () => {
  const out = converter.convert("kubernetes_deployment_v1", "web", deployment);
  const obj = "object" in out ? (out.object as any) : undefined;
  const pod = obj?.spec.template.spec;

  test("names the kind and version the server serves, and drops provider-only attributes", () => {
    expect(obj).toMatchObject({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "apps" } });
    expect(Object.keys(obj)).toEqual(["apiVersion", "kind", "metadata", "spec"]);
  });

  test("renames snake_case to the API's camelCase, case-insensitively (host_ipc -> hostIPC)", () => {
    expect(pod.serviceAccountName).toBe("web");
    expect(pod.hostIPC).toBe(false);
    expect(obj.spec.selector).toEqual({ matchLabels: { "app.kubernetes.io/name": "web" } });
  });

  test("pluralizes block names the API has as lists", () => {
    expect(Object.keys(pod)).toEqual(expect.arrayContaining(["containers", "topologySpreadConstraints", "volumes"]));
    expect(pod.containers[0].ports).toEqual([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
    expect(pod.containers[0].volumeMounts).toEqual([{ name: "tls", mountPath: "/tls", readOnly: true }]);
  });

  test("unwraps a single-element list where the API has one object", () => {
    expect(pod.topologySpreadConstraints[0].labelSelector).toEqual({ matchLabels: { app: "web" } });
  });

  test("types strings as the schema says: integers, int-or-string, octal file modes", () => {
    expect(obj.spec.replicas).toBe(2);
    expect(pod.securityContext).toEqual({ runAsUser: 65532, runAsNonRoot: true });
    expect(obj.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: "25%" });
    expect(pod.containers[0].livenessProbe.httpGet.port).toBe("http");
    expect(pod.volumes[0].secret.defaultMode).toBe(0o440);
  });

  test("keeps strings that are strings in the API, and map keys verbatim", () => {
    expect(obj.metadata.labels).toEqual({ "app.kubernetes.io/name": "web", replicas: "1" });
    expect(pod.containers[0].env).toEqual([{ name: "WORKERS", value: "4" }]);
    expect(pod.containers[0].args).toEqual(["--port", "8080"]);
    expect(pod.containers[0].resources.limits).toEqual({ memory: "256Mi", cpu: "1" });
  });

  test("refuses two blocks where the API takes one object", () => {
    const twoSelectors = JSON.parse(JSON.stringify(deployment));
    twoSelectors.spec.template.spec.topology_spread_constraint[0].label_selector.push({ match_labels: { b: "c" } });
    expect(() => converter.convert("kubernetes_deployment_v1", "web", twoSelectors)).toThrow(
      /labelSelector: 2 blocks where the API takes one object/,
    );
  });

  test("passes an unknown attribute through under its camelCase name (the server's strict validation refuses it)", () => {
    const typo = JSON.parse(JSON.stringify(deployment));
    typo.spec.template.spec.container[0].imagePullPolicyy = "Always";
    typo.spec.replicaz = "2";
    const c = converter.convert("kubernetes_deployment_v1", "web", typo) as { object: any };
    expect(c.object.spec.replicaz).toBe("2");
    expect(c.object.spec.template.spec.containers[0].imagePullPolicyy).toBe("Always");
  });

  test("base64-encodes a Secret's data (the provider takes plain values and encodes them)", () => {
    const c = converter.convert("kubernetes_secret_v1", "s", {
      metadata: { name: "s", namespace: "apps" },
      data: { password: "hunter2" },
      binary_data: { blob: "AAE=" },
    }) as { object: any };
    expect(c.object.data).toEqual({ password: Buffer.from("hunter2").toString("base64"), blob: "AAE=" });
    expect(c.object).not.toHaveProperty("binaryData");
  });

  test("finds the pod templates of a Deployment and a CronJob, and makes bare Pods of them", () => {
    const cron = converter.convert("kubernetes_cron_job_v1", "gc", {
      metadata: { name: "gc", namespace: "apps" },
      spec: {
        schedule: "0 3 * * *",
        job_template: { spec: { template: { metadata: { labels: { a: "b" } }, spec: { container: [{ name: "gc", image: "gc:1" }] } } } },
      },
    }) as { object: any };
    const templates = podTemplates(cron.object);
    expect(templates.map((t) => t.path)).toEqual([".spec.jobTemplate.spec.template"]);
    expect(podFromTemplate(cron.object, templates[0].template, 0)).toEqual({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "gc-pod-0", namespace: "apps", labels: { a: "b" }, annotations: undefined },
      spec: { containers: [{ name: "gc", image: "gc:1" }] },
    });
    expect(podTemplates(obj)).toHaveLength(1);
  });

  test("takes kubernetes_manifest as it is, and reports patch-only resource types as not checked", () => {
    const manifest = { apiVersion: "argoproj.io/v1alpha1", kind: "Rollout", metadata: { name: "r" }, spec: {} };
    expect(converter.convert("kubernetes_manifest", "r", { manifest })).toEqual({ address: "kubernetes_manifest.r", object: manifest });
    expect(converter.convert("kubernetes_labels", "l", {})).toEqual({
      address: "kubernetes_labels.l",
      skipped: NOT_OBJECTS.kubernetes_labels,
    });
  });
});

describe("kind and name rules", () => {
  test("resource types map to kinds and versions", () => {
    expect(kindOfType("kubernetes_horizontal_pod_autoscaler_v2")).toEqual({ kind: "HorizontalPodAutoscaler", version: "v2" });
    expect(kindOfType("kubernetes_config_map")).toEqual({ kind: "ConfigMap", version: undefined });
    expect(kindOfType("kubernetes_api_service_v1")).toEqual({ kind: "APIService", version: "v1" });
  });

  test("plurals", () => {
    expect(["container", "volume_mount", "policy", "egress", "match"].map((s) => plural(s))).toEqual([
      "containers",
      "volume_mounts",
      "policies",
      "egresses",
      "matches",
    ]);
  });
});

describe("replaceReferences", () => {
  const resources = {
    kubernetes_service_account_v1: { sa: { metadata: { name: "tracking" } } },
    kubernetes_namespace_v1: { ns: { metadata: { name: "mlflow" } } },
  };

  test("a reference to a literal of the same stack becomes that literal", () => {
    expect(replaceReferences({ n: "${kubernetes_service_account_v1.sa.metadata[0].name}" }, resources)).toEqual({ n: "tracking" });
  });

  test("anything else becomes a placeholder valid as a DNS label or label value", () => {
    const v = replaceReferences("postgresql://u@${aws_db_instance.db.address}:5432/x", resources);
    expect(v).toBe("postgresql://u@tfref-address:5432/x");
    expect(placeholderFor('replace(random_bytes.b.base64, "/[+]/", "-")')).toBe("tfref-expression");
    expect(placeholderFor("aws_iam_role.a_very_long_resource_name_that_goes_on.arn_of_the_role_with_a_long_attribute_name")).toMatch(
      /^[a-z0-9-]{1,40}$/,
    );
  });

  test("a whole-field reference in an integer field becomes 1", () => {
    const d = JSON.parse(JSON.stringify(deployment));
    d.spec.replicas = "${var.replicas}";
    const c = converter.convert("kubernetes_deployment_v1", "web", replaceReferences(d, resources) as Record<string, unknown>) as {
      object: any;
    };
    expect(c.object.spec.replicas).toBe(1);
  });
});
