/**
 * The harness reads what Kubernetes would run from the synthesized JSON. These tests synthesize
 * real provider resources and check the reading is exact: the ContainerCommand that comes back is
 * the one that went in.
 */
import { Testing } from "cdktf";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { CronJobV1 } from "@cdktf/provider-kubernetes/lib/cron-job-v1";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { IngressV1 } from "@cdktf/provider-kubernetes/lib/ingress-v1";
import { JobV1 } from "@cdktf/provider-kubernetes/lib/job-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { ingressRoutes, selects, services, workloads, type StackJson } from "./lib/workloads";

const container = {
  name: "app",
  image: "example/app:1.0",
  command: ["app"],
  args: ["serve", "--port", "8080", "--user", "$(USER)"],
  env: [
    { name: "USER", valueFrom: { secretKeyRef: { name: "creds", key: "username" } } },
    { name: "MODE", value: "fast" },
    { name: "LEVEL", valueFrom: { configMapKeyRef: { name: "settings", key: "level" } } },
    { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
  ],
  envFrom: [{ configMapRef: { name: "settings" }, prefix: "CFG_" }],
  port: [
    { name: "http", containerPort: 8080 },
    { name: "metrics", containerPort: 9090 },
  ],
  volumeMount: [
    { name: "tmp", mountPath: "/tmp" },
    { name: "secret-files", mountPath: "/etc/app", readOnly: true },
  ],
};
const volumes = [
  { name: "tmp", emptyDir: {} },
  { name: "secret-files", secret: { secretName: "creds", items: [{ key: "password", path: "password.txt" }] } },
];
const labels = { "app.kubernetes.io/name": "app" };

function fixture(): StackJson {
  return JSON.parse(
    Testing.synthScope((scope) => {
      new SecretV1(scope, "creds", {
        metadata: { name: "creds", namespace: "ns" },
        data: { username: "u", password: "${random_password.p.result}" },
      });
      new ConfigMapV1(scope, "settings", { metadata: { name: "settings", namespace: "ns" }, data: { level: "3" } });
      new DeploymentV1(scope, "app", {
        metadata: { name: "app", namespace: "ns" },
        spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { container: [container], volume: volumes } } },
      });
      new JobV1(scope, "job", {
        metadata: { name: "job", namespace: "ns" },
        spec: {
          template: { metadata: {}, spec: { container: [{ name: "once", image: "example/app:1.0", command: ["app", "migrate"] }] } },
        },
      });
      new CronJobV1(scope, "cron", {
        metadata: { name: "cron", namespace: "ns" },
        spec: {
          schedule: "0 3 * * *",
          jobTemplate: {
            metadata: {},
            spec: {
              template: { metadata: {}, spec: { container: [{ name: "gc", image: "example/app:1.0", command: ["app"], args: ["gc"] }] } },
            },
          },
        },
      });
      new ServiceV1(scope, "svc", {
        metadata: { name: "app", namespace: "ns" },
        spec: { selector: labels, port: [{ name: "http", port: 80, targetPort: "http" }] },
      });
      new IngressV1(scope, "ingress", {
        metadata: { name: "app", namespace: "ns" },
        spec: {
          rule: [
            {
              host: "app.example.com",
              http: { path: [{ path: "/", pathType: "Prefix", backend: { service: { name: "app", port: { number: 80 } } } }] },
            },
          ],
        },
      });
    }),
  ) as StackJson;
}

describe("reading workloads from synthesized JSON", () => {
  const json = fixture();
  const all = workloads(json);

  it("finds the Deployment, Job and CronJob with their names and namespaces", () => {
    expect(all.map((w) => [w.kind, w.name, w.namespace]).sort()).toEqual([
      ["CronJob", "cron", "ns"],
      ["Deployment", "app", "ns"],
      ["Job", "job", "ns"],
    ]);
  });

  it("turns the container back into the ContainerCommand shape, env_from expanded first", () => {
    const app = all.find((w) => w.kind === "Deployment")!;
    expect(app.podLabels).toEqual(labels);
    const c = app.containers[0];
    expect(c.name).toBe("app");
    expect(c.command).toEqual({
      image: "example/app:1.0",
      command: ["app"],
      args: ["serve", "--port", "8080", "--user", "$(USER)"],
      env: [
        { name: "CFG_level", configMapKeyRef: { name: "settings", key: "level" } },
        { name: "USER", secretKeyRef: { name: "creds", key: "username" } },
        { name: "MODE", value: "fast" },
        { name: "LEVEL", configMapKeyRef: { name: "settings", key: "level" } },
        { name: "NS", fieldRef: { fieldPath: "metadata.namespace" } },
      ],
      files: [{ path: "/etc/app/password.txt", secretKeyRef: { name: "creds", key: "password" } }],
      ports: { http: 8080, metrics: 9090 },
    });
    expect(c.scratch).toEqual([{ path: "/tmp", volume: "tmp", kind: "empty_dir" }]);
  });

  it("reads the CronJob's container through its job template", () => {
    const cron = all.find((w) => w.kind === "CronJob")!;
    expect(cron.containers[0].command.args).toEqual(["gc"]);
    const job = all.find((w) => w.kind === "Job")!;
    expect(job.containers[0].command.command).toEqual(["app", "migrate"]);
  });

  it("reads Services and Ingress routes, and which pods a selector picks", () => {
    const svc = services(json);
    expect(svc).toEqual([
      expect.objectContaining({ name: "app", namespace: "ns", type: "ClusterIP", ports: [{ name: "http", port: 80, targetPort: "http" }] }),
    ]);
    expect(ingressRoutes(json)).toEqual([
      expect.objectContaining({ host: "app.example.com", path: "/", serviceName: "app", servicePort: 80 }),
    ]);
    expect(selects(svc[0].selector, labels)).toBe(true);
    expect(selects(svc[0].selector, { other: "x" })).toBe(false);
    expect(selects({}, labels)).toBe(false);
  });

  it("fails, naming the resource, when env_from references a ConfigMap the stack does not define", () => {
    const broken = JSON.parse(JSON.stringify(json));
    const dep = Object.values(broken.resource.kubernetes_deployment_v1)[0] as any;
    dep.spec.template.spec.container[0].env_from[0].config_map_ref.name = "missing";
    expect(() => workloads(broken)).toThrow(/kubernetes_deployment_v1\.app container app: env_from references ConfigMap "missing"/);
  });
});
