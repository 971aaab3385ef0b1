/**
 * Default deny, proven on the synthesized NetworkPolicies of every configured environment (a fork's
 * own included): a connectivity model (test/helpers/network-model.ts) decides each flow, and every flow
 * a workload needs must be allowed, while the flows nobody needs must be denied.
 */
import { authProxyPodLabels, AUTH_PROXY_METRICS_PORT, AUTH_PROXY_PORT } from "../../constructs/auth-proxy/oauth2-proxy-command";
import { registryEventsPodLabels } from "../../constructs/registry-events/command";
import { modelRetentionPodLabels } from "../../constructs/model-retention/command";
import { issuerPort } from "../../constructs/auth-proxy";
import { gcPodLabels, migrationPodLabels, trackingServerPodLabels } from "../../constructs/tracking-server";
import { trackingInstance } from "../../constructs/tracking-server/from-config";
import { ALERTMANAGER_POD_LABELS, ARGO_ROLLOUTS_POD_LABELS, GRAFANA_POD_LABELS } from "../../constructs/network-policies/from-config";
import { ARGO_ROLLOUTS_METRICS_PORT } from "../../constructs/argo-rollouts";
import type { EnvironmentConfig } from "../../config";
import { TRAINING_STEP_POD_LABELS } from "../../constructs/training";
import { addressIn, allowed, describeEnd, policiesOf, type AddressEnd, type End, type Labels, type PodEnd } from "../helpers/network-model";
import { SHIPPED, configured, resourcesOf, synthJson, type TfJson } from "../helpers/synth";

const PUBLIC = "203.0.113.10"; // an address on the internet (TEST-NET-3)
const S3 = "52.218.0.10"; // an S3 address (public)
const IMDS = "169.254.169.254";
const POD_IDENTITY = "169.254.170.23";
const MODEL_SERVER_PORT = 8080;
const MODEL_SERVER_METRICS_PORT = 9090;

function listOf<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** The pod templates of the stack's Deployments, Jobs and CronJobs: namespace and labels. */
function podTemplates(json: TfJson): { address: string; namespace: string; labels: Labels }[] {
  const out: { address: string; namespace: string; labels: Labels }[] = [];
  for (const type of ["kubernetes_deployment_v1", "kubernetes_job_v1", "kubernetes_cron_job_v1"]) {
    for (const [name, r] of Object.entries(resourcesOf(json, type))) {
      const spec = type === "kubernetes_cron_job_v1" ? listOf<any>(listOf<any>(r.spec)[0].job_template)[0].spec : r.spec;
      const template = listOf<any>(listOf<any>(spec)[0].template)[0];
      out.push({
        address: `${type}.${name}`,
        namespace: listOf<any>(r.metadata)[0].namespace,
        labels: listOf<any>(template.metadata)[0].labels ?? {},
      });
    }
  }
  return out;
}

describe.each(SHIPPED)("default-deny networking of %s: the flows each workload needs, and no others", (envName) => {
  const config: EnvironmentConfig = configured(envName);
  const json = synthJson(config);
  const policies = policiesOf(json);
  const vpc = config.ingress.vpcCidrs[0];
  // Pods get VPC addresses (VPC CNI); the database, the load balancer and the API server are VPC addresses too.
  let next = 1000;
  const pod = (namespace: string, labels: Labels): PodEnd => ({ namespace, labels, ip: addressIn(vpc, next++) });
  const rds: AddressEnd = { ip: addressIn(vpc, 20) };
  const alb: AddressEnd = { ip: addressIn(vpc, 30) };
  const kubeApi: AddressEnd = { ip: addressIn(vpc, 40) };
  const at = (ip: string): AddressEnd => ({ ip });

  const ns = config.mlflow.namespace;
  const mon = config.monitoring.namespace;
  const tracking = pod(ns, trackingServerPodLabels(trackingInstance(config)));
  const proxy = pod(ns, authProxyPodLabels(config.project));
  const gc = pod(ns, gcPodLabels(trackingInstance(config)));
  const migration = pod(ns, migrationPodLabels(trackingInstance(config)));
  const retention = pod(ns, modelRetentionPodLabels(config));
  const events = pod(ns, registryEventsPodLabels(config));
  const stranger = pod(ns, { "app.kubernetes.io/name": "something-else" });
  const elsewhere = pod("default", { app: "web" });
  const prometheus = pod(mon, config.monitoring.prometheusPodLabels);
  const grafana = pod(mon, GRAFANA_POD_LABELS);
  const alertmanager = pod(mon, ALERTMANAGER_POD_LABELS);
  const kubeDns = pod("kube-system", { "k8s-app": "kube-dns" });
  const templates = podTemplates(json);
  const known = [tracking, proxy, gc, migration, retention, events].map((p) => JSON.stringify(p.labels));
  const modelServers = templates
    .filter((t) => t.namespace === config.serving.namespace && !known.includes(JSON.stringify(t.labels)))
    .map((t) => pod(t.namespace, t.labels));
  const createdNamespaces = Object.values(resourcesOf(json, "kubernetes_namespace_v1")).map(
    (n) => listOf<any>(n.metadata)[0].name as string,
  );
  const podIdentity = config.identity.mode === "pod-identity";

  const flow = (src: End, dst: End, port: number, protocol: "TCP" | "UDP" = "TCP") => allowed(policies, src, dst, port, protocol);
  const show = (src: End, dst: End, port: number) => `${describeEnd(src)} -> ${describeEnd(dst)}:${port}`;
  const expectFlows = (flows: [End, End, number][], want: boolean) => {
    const wrong = flows.filter(([s, d, p]) => flow(s, d, p) !== want).map(([s, d, p]) => show(s, d, p));
    expect(wrong).toEqual([]);
  };

  it("the model sees the stack's policies and pods (else it would prove nothing)", () => {
    expect(policies.length).toBeGreaterThanOrEqual(4);
    expect(createdNamespaces).toContain(ns);
    for (const t of templates) expect(createdNamespaces).toContain(t.namespace);
  });

  it("every namespace the stack creates denies ingress and egress by default", () => {
    for (const namespace of createdNamespaces) {
      const deny = policies.find((p) => p.metadata.namespace === namespace && p.metadata.name === "default-deny");
      expect(deny).toBeDefined();
      expect([...(deny!.spec.policy_types ?? [])].sort()).toEqual(["Egress", "Ingress"]);
      // An unknown pod of the namespace: nothing in, nothing out, except DNS.
      const unknown = pod(namespace, { "app.kubernetes.io/name": "unknown" });
      expectFlows(
        [
          [unknown, at(PUBLIC), 443],
          [unknown, rds, 5432],
          [unknown, tracking, config.mlflow.port],
          [unknown, at(IMDS), 80],
        ],
        false,
      );
      expectFlows(
        [
          [alb, unknown, 8080],
          [elsewhere, unknown, 8080],
        ],
        false,
      );
      expect(flow(unknown, kubeDns, 53, "UDP")).toBe(true);
      expect(flow(unknown, kubeDns, 53, "TCP")).toBe(true);
    }
  });

  it("every pod of the stack's namespaces reaches the cluster DNS, and only through it on port 53", () => {
    for (const t of templates) {
      const p = pod(t.namespace, t.labels);
      expect([t.address, flow(p, kubeDns, 53, "UDP")]).toEqual([t.address, true]);
    }
  });

  it("the tracking server: admits the proxy, Prometheus, gc, retention and the events service; reaches RDS, AWS APIs, its credentials and the events service", () => {
    const port = config.mlflow.port;
    expectFlows(
      [
        [proxy, tracking, port],
        [prometheus, tracking, port],
        [gc, tracking, port],
        [retention, tracking, port],
        ...(config.events.enabled
          ? [[events, tracking, port] as [End, End, number], [tracking, events, config.events.port] as [End, End, number]]
          : []),
        [tracking, rds, 5432],
        [tracking, at(S3), 443],
        [tracking, { ip: addressIn(vpc, 50) }, 443],
        ...(podIdentity ? [[tracking, at(POD_IDENTITY), 80] as [End, End, number]] : []),
      ],
      true,
    );
  });

  it("nothing else reaches the tracking server: not the migration Job, a model server, Grafana, Alertmanager, another pod, another namespace, the VPC", () => {
    const port = config.mlflow.port;
    expectFlows(
      [
        [migration, tracking, port],
        [stranger, tracking, port],
        [elsewhere, tracking, port],
        [grafana, tracking, port],
        [alertmanager, tracking, port],
        [alb, tracking, port],
        [at(PUBLIC), tracking, port],
        ...modelServers.map((m) => [m, tracking, port] as [End, End, number]),
        ...(config.events.enabled ? [] : [[events, tracking, port] as [End, End, number]]),
      ],
      false,
    );
  });

  it("the tracking server reaches nothing else (no instance metadata, no other port outside)", () => {
    expectFlows(
      [
        [tracking, at(IMDS), 80],
        [tracking, at(PUBLIC), 80],
        [tracking, at(PUBLIC), 22],
        [tracking, proxy, AUTH_PROXY_PORT],
        [tracking, rds, 22],
      ],
      false,
    );
  });

  it("the proxy: from the load balancer (VPC) and Prometheus; to the tracking server and the issuer", () => {
    expectFlows(
      [
        [alb, proxy, AUTH_PROXY_PORT],
        [prometheus, proxy, AUTH_PROXY_METRICS_PORT],
        [proxy, tracking, config.mlflow.port],
        [proxy, at(PUBLIC), issuerPort(config.auth.issuerUrl)],
      ],
      true,
    );
    // (Any address of ingress.vpcCidrs may reach the proxy's port: with the VPC CNI that includes every pod.)
    expectFlows(
      [
        [proxy, rds, 5432],
        [alb, proxy, AUTH_PROXY_METRICS_PORT],
        [at(PUBLIC), proxy, AUTH_PROXY_PORT],
      ],
      false,
    );
  });

  it("the migration Job reaches the database only", () => {
    expect(flow(migration, rds, 5432)).toBe(true);
    expectFlows(
      [
        [migration, at(S3), 443],
        [migration, at(PUBLIC), 80],
        [migration, at(IMDS), 80],
        [alb, migration, 8080],
      ],
      false,
    );
  });

  it("the gc CronJob: the database, the tracking server, S3 and its credentials; never the internet on any other port", () => {
    expectFlows(
      [
        [gc, rds, 5432],
        [gc, tracking, config.mlflow.port],
        [gc, at(S3), 443],
        ...(podIdentity ? [[gc, at(POD_IDENTITY), 80] as [End, End, number]] : []),
      ],
      true,
    );
    expectFlows(
      [
        [gc, at(PUBLIC), 80],
        [gc, at(PUBLIC), 22],
        [gc, at(PUBLIC), 5432],
        [gc, at(IMDS), 80],
        [gc, proxy, AUTH_PROXY_PORT],
        [alb, gc, 8080],
      ],
      false,
    );
  });

  it("the model-retention CronJob: the tracking server, S3 and its credentials; not the database", () => {
    expectFlows(
      [
        [retention, tracking, config.mlflow.port],
        [retention, at(S3), 443],
        ...(podIdentity ? [[retention, at(POD_IDENTITY), 80] as [End, End, number]] : []),
      ],
      true,
    );
    expectFlows(
      [
        [retention, rds, 5432],
        [retention, at(PUBLIC), 80],
        [retention, at(IMDS), 80],
      ],
      false,
    );
  });

  (config.events.enabled ? it : it.skip)(
    "the registry events service: webhooks from the tracking server, scrapes; to MLflow and its channels, never instance metadata",
    () => {
      expectFlows(
        [
          [tracking, events, config.events.port],
          [prometheus, events, config.events.port],
          [events, tracking, config.mlflow.port],
          [events, at(PUBLIC), 443],
        ],
        true,
      );
      expectFlows(
        [
          [events, at(IMDS), 80],
          [events, rds, 5432],
          [proxy, events, config.events.port],
          [alb, events, config.events.port],
        ],
        false,
      );
    },
  );

  (config.training.enabled ? it : it.skip)(
    "training: step pods reach MLflow's load balancer, S3 and the API (443) and their credentials; nothing reaches them; never the database or instance metadata",
    () => {
      const step = pod(config.training.namespace, { ...TRAINING_STEP_POD_LABELS, "workflows.argoproj.io/workflow": "train-x" });
      expectFlows(
        [
          [step, at(PUBLIC), 443],
          [step, { ip: addressIn(vpc, 30) }, 443],
          [step, kubeDns, 53],
        ],
        true,
      );
      expectFlows(
        [
          [step, rds, 5432],
          [step, at(IMDS), 80],
          [step, at(PUBLIC), 80],
          [step, tracking, config.mlflow.port],
          [alb, step, 8080],
          [tracking, step, 8080],
        ],
        false,
      );
      if (config.training.argo.mode === "install") {
        const argo = pod(config.training.argo.namespace, {
          "app.kubernetes.io/part-of": "argo-workflows",
          "app.kubernetes.io/component": "server",
        });
        expectFlows(
          [
            [argo, at(PUBLIC), 443],
            [alb, argo, 2746],
          ],
          true,
        );
        expectFlows(
          [
            [argo, rds, 5432],
            [argo, at(IMDS), 80],
            [alb, argo, 8080],
            [at(PUBLIC), argo, 2746],
          ],
          false,
        );
      }
    },
  );

  it("model servers: from the gateway's addresses and Prometheus only; they call nothing (not the database, not MLflow) but S3 when they log their inputs", () => {
    for (const m of modelServers) {
      const model = m.labels["mlflow-platform/model"];
      if (!model || !config.serving.models[model]) continue; // the smoke tests' and gateways' pods have policies of their own
      // Prometheus scrapes the admin port (/metrics); the traffic port is the gateway's.
      expect(flow(prometheus, m, MODEL_SERVER_METRICS_PORT)).toBe(true);
      if (config.serving.gatewayCidrs.length > 0)
        expect(flow({ ip: addressIn(config.serving.gatewayCidrs[0], 7) }, m, MODEL_SERVER_METRICS_PORT)).toBe(false);
      if (config.serving.gatewayCidrs.length > 0)
        expect(flow({ ip: addressIn(config.serving.gatewayCidrs[0], 7) }, m, MODEL_SERVER_PORT)).toBe(true);
      // (Any address of serving.gatewayCidrs may call it: with the VPC CNI, pods of those ranges too.)
      expectFlows(
        [
          [m, rds, 5432],
          [m, tracking, config.mlflow.port],
          [m, at(IMDS), 80],
          [at(PUBLIC), m, MODEL_SERVER_PORT],
          [m, at(PUBLIC), 80],
        ],
        false,
      );
      // Inference logging writes to S3 (HTTPS); without it the server calls nothing at all.
      expect(flow(m, at(S3), 443)).toBe(config.serving.models[model].inferenceLog.enabled);
    }
  });

  const rolloutsInstalled =
    createdNamespaces.includes(config.serving.delivery.controllerNamespace) && config.serving.delivery.strategy !== "rollingUpdate";
  (rolloutsInstalled ? it : it.skip)(
    "the Argo Rollouts controller: the API server and the analysis queries to Prometheus; only Prometheus' scrapes of its metrics come in; nothing else goes out",
    () => {
      const controller = pod(config.serving.delivery.controllerNamespace, {
        ...ARGO_ROLLOUTS_POD_LABELS,
        "app.kubernetes.io/component": "rollouts-controller",
      });
      expectFlows(
        [
          [controller, kubeApi, 443],
          ...(config.serving.delivery.prometheusUrl || config.monitoring.mode !== "install"
            ? []
            : [[controller, prometheus, 9090] as [End, End, number]]),
        ],
        true,
      );
      // Its metrics port, scraped by the Prometheus the ServiceMonitor is for (monitoring/argo-rollouts-controller).
      expect(flow(prometheus, controller, ARGO_ROLLOUTS_METRICS_PORT)).toBe(true);
      expectFlows(
        [
          [controller, at(PUBLIC), 443],
          [controller, rds, 5432],
          [controller, tracking, config.mlflow.port],
          [controller, at(IMDS), 80],
          [alb, controller, 8090],
          [elsewhere, controller, 8090],
          [stranger, controller, 8090],
          [prometheus, controller, 8080],
          [stranger, prometheus, 9090],
        ],
        false,
      );
    },
  );

  (createdNamespaces.includes(mon) && config.monitoring.mode === "install" ? it : it.skip)(
    "the monitoring namespace: its parts talk to each other and to the API server; Prometheus scrapes; alerts leave; nothing else comes in",
    () => {
      expectFlows(
        [
          [grafana, prometheus, 9090],
          [prometheus, alertmanager, 9093],
          [prometheus, kubeApi, 443],
          [grafana, kubeApi, 443],
          [alertmanager, at(PUBLIC), 443],
          [grafana, at(PUBLIC), 443],
          [prometheus, { ip: addressIn(vpc, 60) }, 10250],
          ...(config.monitoring.grafanaHostname ? [[alb, grafana, 3000] as [End, End, number]] : []),
        ],
        true,
      );
      expectFlows(
        [
          [elsewhere, prometheus, 9090],
          [alb, prometheus, 9090],
          [stranger, prometheus, 9090],
          [prometheus, at(PUBLIC), 443],
          [at(PUBLIC), grafana, 3000],
          [alertmanager, rds, 5432],
          [grafana, tracking, config.mlflow.port],
          [prometheus, at(IMDS), 80],
          ...(config.monitoring.grafanaHostname
            ? []
            : [[alb, grafana, 3000] as [End, End, number], [stranger, grafana, 3000] as [End, End, number]]),
        ],
        false,
      );
    },
  );
});
