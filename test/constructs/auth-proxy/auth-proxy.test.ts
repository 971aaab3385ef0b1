import { spawn } from "child_process";
import * as crypto from "crypto";
import { Testing, TerraformStack } from "cdktf";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { AuthProxy, issuerPort, type AuthProxyProps } from "../../../constructs/auth-proxy";
import { authProxyPodLabels, authProxySecretRefs, oauth2ProxyCommand } from "../../../constructs/auth-proxy/oauth2-proxy-command";
import { authProxyProps, oauth2ProxySettings } from "../../../constructs/auth-proxy/from-config";
import type { TrackingServerContract } from "../../../constructs/core/contracts";
import type { EnvironmentConfig } from "../../../config";
import { envConfig, onlyResource, resourcesOf, type TfJson } from "../../helpers/synth";
import { oauth2ProxyBin } from "../../helpers/tools";

const trackingServer: TrackingServerContract = {
  namespace: "mlflow",
  serviceName: "mlflow-tracking",
  port: 5000,
  portName: "http",
  podLabels: { "app.kubernetes.io/name": "mlflow", "app.kubernetes.io/component": "tracking-server" },
  serviceLabels: { "app.kubernetes.io/name": "mlflow" },
  metricsPath: "/metrics",
};

function synth(config: EnvironmentConfig, props: Partial<AuthProxyProps> = {}): { json: TfJson; proxy: AuthProxy } {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  const proxy = new AuthProxy(stack, "auth_proxy", { ...authProxyProps(config, { trackingServer }), ...props });
  return { json: JSON.parse(Testing.synth(stack)) as TfJson, proxy };
}

// Most tests use an operator-created client Secret; the Secrets Manager source has its own test below.
const staging = envConfig("staging", {
  auth: { clientSecret: { source: "kubernetes", secretName: "oauth2-proxy-client", key: "client-secret" } },
});
const { json, proxy } = synth(staging);
const deployment = onlyResource(json, "kubernetes_deployment_v1");
const podSpec = deployment.spec.template.spec;
const container = podSpec.container[0];
const envByName = (c: any) => Object.fromEntries(c.env.map((e: any) => [e.name, e]));

describe("AuthProxy Deployment", () => {
  it("runs the command of oauth2ProxyCommand, entry for entry", () => {
    const cmd = oauth2ProxyCommand({
      ...oauth2ProxySettings(staging),
      upstream: trackingServer,
      secrets: authProxySecretRefs(staging.auth.clientSecret),
    });
    expect(container.image).toBe("quay.io/oauth2-proxy/oauth2-proxy:v7.15.6-alpine");
    expect(container.command).toEqual(["/bin/oauth2-proxy"]);
    expect(container.args).toEqual([]);
    expect(container.env.map((e: any) => e.name)).toEqual(cmd.env.map((e) => e.name));
    for (const [i, e] of cmd.env.entries()) {
      if ("value" in e) expect(container.env[i]).toEqual({ name: e.name, value: e.value });
      else if ("secretKeyRef" in e)
        expect(container.env[i]).toEqual({
          name: e.name,
          value_from: { secret_key_ref: { name: e.secretKeyRef.name, key: e.secretKeyRef.key } },
        });
      else throw new Error(`unexpected reference ${e.name}`);
    }
    expect(envByName(container).OAUTH2_PROXY_UPSTREAMS.value).toBe("http://mlflow-tracking.mlflow.svc:5000/");
  });

  it("takes the client and cookie secrets from Secrets, never as literal values", () => {
    const env = envByName(container);
    expect(env.OAUTH2_PROXY_CLIENT_SECRET).toEqual({
      name: "OAUTH2_PROXY_CLIENT_SECRET",
      value_from: { secret_key_ref: { name: "oauth2-proxy-client", key: "client-secret" } },
    });
    expect(env.OAUTH2_PROXY_COOKIE_SECRET).toEqual({
      name: "OAUTH2_PROXY_COOKIE_SECRET",
      value_from: { secret_key_ref: { name: "oauth2-proxy-cookie", key: "cookie-secret" } },
    });
    expect(JSON.stringify(deployment)).not.toMatch(/random_bytes|secret_string/);
  });

  it("runs in the tracking server's namespace with stable selector labels", () => {
    expect(deployment.metadata.namespace).toBe("mlflow");
    expect(deployment.metadata.name).toBe("oauth2-proxy");
    expect(deployment.spec.selector.match_labels).toEqual(authProxyPodLabels(staging.project));
    expect(deployment.spec.template.metadata.labels).toEqual({
      ...authProxyPodLabels(staging.project),
      "app.kubernetes.io/version": "7.15.6",
    });
  });

  it("exposes the proxy and metrics ports and probes /ping (liveness) and /ready (readiness)", () => {
    expect(container.port).toEqual([
      { name: "http", container_port: 4180, protocol: "TCP" },
      { name: "metrics", container_port: 44180, protocol: "TCP" },
    ]);
    expect(container.liveness_probe.http_get).toEqual({ path: "/ping", port: "http", scheme: "HTTP" });
    expect(container.readiness_probe.http_get).toEqual({ path: "/ready", port: "http", scheme: "HTTP" });
  });

  it("runs with the restricted security context: non-root, read-only root, no capabilities, RuntimeDefault seccomp, no API token", () => {
    expect(container.security_context).toEqual({
      run_as_non_root: true,
      run_as_user: "65532",
      run_as_group: "65532",
      allow_privilege_escalation: false,
      read_only_root_filesystem: true,
      privileged: false,
      capabilities: { drop: ["ALL"] },
      seccomp_profile: { type: "RuntimeDefault" },
    });
    expect(podSpec.security_context).toEqual({
      run_as_non_root: true,
      run_as_user: "65532",
      run_as_group: "65532",
      seccomp_profile: { type: "RuntimeDefault" },
    });
    expect(podSpec.automount_service_account_token).toBe(false);
    expect(onlyResource(json, "kubernetes_service_account_v1").automount_service_account_token).toBe(false);
    expect(podSpec.service_account_name).toMatch(
      /^\$\{kubernetes_service_account_v1\.auth_proxy_service_account_[A-Z0-9]+\.metadata\[0\]\.name\}$/,
    );
  });

  it("takes replicas and resources from the environment, and lets the autoscaler own the replica count", () => {
    expect(deployment.spec.replicas).toBe("2");
    expect(container.resources).toEqual({ requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } });
    expect(deployment.lifecycle).toEqual({ ignore_changes: ["spec[0].replicas"] });
    const prod = onlyResource(synth(envConfig("prod")).json, "kubernetes_deployment_v1");
    expect(prod.spec.replicas).toBe("2");
  });

  it("rolls out without losing capacity, spreads over zones and nodes, drains before it stops", () => {
    expect(deployment.spec.strategy).toEqual({ type: "RollingUpdate", rolling_update: { max_unavailable: "0", max_surge: "1" } });
    expect(podSpec.topology_spread_constraint.map((t: any) => t.topology_key)).toEqual([
      "topology.kubernetes.io/zone",
      "kubernetes.io/hostname",
    ]);
    // staging: idle timeout 600 s, so a deregistration delay of 600 s; serving 15 s longer, then 30 s to stop.
    expect(container.lifecycle).toEqual({ pre_stop: [{ exec: { command: ["sleep", "615"] } }] });
    expect(podSpec.termination_grace_period_seconds).toBe(645);
  });
});

describe("AuthProxy Service, PDB and autoscaler", () => {
  it("has a ClusterIP Service (never a LoadBalancer) with the proxy and metrics ports", () => {
    const svc = onlyResource(json, "kubernetes_service_v1");
    expect(svc.spec.type).toBe("ClusterIP");
    expect(svc.spec.selector).toEqual(authProxyPodLabels(staging.project));
    expect(svc.spec.port).toEqual([
      { name: "http", port: 4180, target_port: "http", protocol: "TCP" },
      { name: "metrics", port: 44180, target_port: "metrics", protocol: "TCP" },
    ]);
  });

  it("allows one voluntary disruption at a time", () => {
    const pdb = onlyResource(json, "kubernetes_pod_disruption_budget_v1");
    expect(pdb.spec).toEqual({ max_unavailable: "1", selector: { match_labels: authProxyPodLabels(staging.project) } });
  });

  it("autoscales on CPU between auth.replicas.min and max", () => {
    const hpa = onlyResource(json, "kubernetes_horizontal_pod_autoscaler_v2");
    expect(hpa.spec.min_replicas).toBe(2);
    expect(hpa.spec.max_replicas).toBe(4);
    expect(hpa.spec.scale_target_ref).toEqual({ api_version: "apps/v1", kind: "Deployment", name: "oauth2-proxy" });
    expect(hpa.spec.metric[0].resource).toEqual({ name: "cpu", target: { type: "Utilization", average_utilization: 70 } });
  });

  it("has no autoscaler, and a managed replica count, when min equals max", () => {
    const fixed = synth(envConfig("staging", { auth: { replicas: { min: 3, max: 3 } } })).json;
    expect(resourcesOf(fixed, "kubernetes_horizontal_pod_autoscaler_v2")).toEqual({});
    const d = onlyResource(fixed, "kubernetes_deployment_v1");
    expect(d.spec.replicas).toBe("3");
    expect(d.lifecycle).toBeUndefined();
  });

  it("publishes its contract", () => {
    expect(proxy.contract).toEqual({
      namespace: "mlflow",
      serviceName: "oauth2-proxy",
      port: 4180,
      portName: "http",
      podLabels: authProxyPodLabels(staging.project),
      serviceLabels: { ...authProxyPodLabels(staging.project), "app.kubernetes.io/managed-by": "cdktf" },
      metricsPort: 44180,
      metricsPortName: "metrics",
    });
  });
});

describe("AuthProxy secrets", () => {
  it("generates the cookie secret from 32 random bytes, written in base64url", () => {
    expect(onlyResource(json, "random_bytes")).toEqual({ length: 32 });
    const secrets = Object.values(resourcesOf(json, "kubernetes_secret_v1"));
    expect(secrets).toHaveLength(1);
    expect(secrets[0].metadata.name).toBe("oauth2-proxy-cookie");
    expect(secrets[0].data["cookie-secret"]).toMatch(
      /^\$\{replace\(replace\(random_bytes\.auth_proxy_cookie_seed_[A-Z0-9]+\.base64, "\/\[\+\]\/", "-"\), "\/\[\/\]\/", "_"\)\}$/,
    );
  });

  it("that encoding always yields a 32-byte key the real oauth2-proxy accepts (std base64 would not)", async () => {
    // Terraform's replace() with /[+]/ and /[/]/ maps the standard alphabet to the URL-safe one.
    const asTerraformWrites = (b: Buffer) => b.toString("base64").replace(/[+]/g, "-").replace(/[/]/g, "_");
    let sample = crypto.randomBytes(32);
    while (!/[+/]/.test(sample.toString("base64"))) sample = crypto.randomBytes(32);
    const cmd = oauth2ProxyCommand({
      ...oauth2ProxySettings(staging),
      issuerUrl: "http://127.0.0.1:9/x",
      upstream: trackingServer,
      secrets: authProxySecretRefs(staging.auth.clientSecret),
    });
    const env: Record<string, string> = {};
    for (const e of cmd.env) env[e.name] = "value" in e ? e.value : "placeholder";
    const check = (cookie: string) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        // Skip discovery: only the cookie secret is under test here.
        const child = spawn(
          oauth2ProxyBin(),
          [
            "--config-test",
            "--skip-oidc-discovery",
            "--login-url=http://127.0.0.1:9/a",
            "--redeem-url=http://127.0.0.1:9/t",
            "--oidc-jwks-url=http://127.0.0.1:9/j",
          ],
          {
            env: { ...env, OAUTH2_PROXY_COOKIE_SECRET: cookie },
          },
        );
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        child.on("exit", (code) => resolve({ code, out }));
      });
    const good = await check(asTerraformWrites(sample));
    expect(good.out).toMatch(/configuration is valid/);
    expect(good.code).toBe(0);
    const bad = await check(sample.toString("base64"));
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/cookie_secret must be 16, 24, or 32 bytes/);
    for (let i = 0; i < 500; i++) expect(Buffer.from(asTerraformWrites(crypto.randomBytes(32)), "base64url")).toHaveLength(32);
  });

  it("copies a Secrets Manager client secret into a Kubernetes Secret the pods reference", () => {
    const arn = "arn:aws:secretsmanager:eu-west-1:222222222222:secret:mlflow-oidc-AbCdEf";
    const sm = synth(envConfig("staging", { auth: { clientSecret: { source: "secrets-manager", secretArn: arn } } })).json;
    const source = Object.entries(sm.data?.aws_secretsmanager_secret_version ?? {});
    expect(source).toHaveLength(1);
    expect(source[0][1]).toEqual({ secret_id: arn });
    const k8s = Object.entries(resourcesOf(sm, "kubernetes_secret_v1")).find(([, s]) => s.metadata.name === "oauth2-proxy-oidc-client")!;
    expect(k8s[1].data).toEqual({ "client-secret": `\${data.aws_secretsmanager_secret_version.${source[0][0]}.secret_string}` });
    const d = onlyResource(sm, "kubernetes_deployment_v1");
    expect(envByName(d.spec.template.spec.container[0]).OAUTH2_PROXY_CLIENT_SECRET.value_from.secret_key_ref).toEqual({
      name: "oauth2-proxy-oidc-client",
      key: "client-secret",
    });
    expect(d.depends_on).toContain(`kubernetes_secret_v1.${k8s[0]}`);
  });

  it("never writes a secret value into the synthesized JSON", () => {
    const text = JSON.stringify(json);
    expect(text).not.toMatch(/"(client|cookie)[-_]secret"\s*:\s*"[^$]/);
  });
});

describe("AuthProxy NetworkPolicy", () => {
  const np = onlyResource(json, "kubernetes_network_policy_v1");

  it("selects the proxy's pods and restricts both directions", () => {
    expect(np.metadata.namespace).toBe("mlflow");
    expect(np.spec.pod_selector).toEqual({ match_labels: authProxyPodLabels(staging.project) });
    expect(np.spec.policy_types).toEqual(["Ingress", "Egress"]);
  });

  it("admits the proxy port from the VPC CIDRs (the load balancer) and metrics only from Prometheus's pods in the monitoring namespace", () => {
    expect(np.spec.ingress).toEqual([
      { from: [{ ip_block: { cidr: "10.0.0.0/16" } }], ports: [{ port: "4180", protocol: "TCP" }] },
      {
        // One peer, both selectors (AND): Prometheus's pods, not every pod of the monitoring namespace.
        from: [
          {
            namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "monitoring" } },
            pod_selector: { match_labels: { "app.kubernetes.io/name": "prometheus" } },
          },
        ],
        ports: [{ port: "44180", protocol: "TCP" }],
      },
    ]);
    const multi = onlyResource(
      synth(envConfig("staging", { ingress: { vpcCidrs: ["10.0.0.0/16", "100.64.0.0/16"] } }), { monitoringNamespace: "observability" })
        .json,
      "kubernetes_network_policy_v1",
    );
    expect(multi.spec.ingress[0].from).toEqual([{ ip_block: { cidr: "10.0.0.0/16" } }, { ip_block: { cidr: "100.64.0.0/16" } }]);
    expect(multi.spec.ingress[1].from).toEqual([
      {
        namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "observability" } },
        pod_selector: { match_labels: { "app.kubernetes.io/name": "prometheus" } },
      },
    ]);
    const custom = onlyResource(
      synth(staging, { prometheusPodLabels: { app: "prometheus", release: "prom" } }).json,
      "kubernetes_network_policy_v1",
    );
    expect(custom.spec.ingress[1].from).toEqual([
      {
        namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "monitoring" } },
        pod_selector: { match_labels: { app: "prometheus", release: "prom" } },
      },
    ]);
  });

  it("lets the proxy reach only DNS, the tracking server's pods and the issuers' ports", () => {
    expect(np.spec.egress).toEqual([
      {
        ports: [
          { port: "53", protocol: "UDP" },
          { port: "53", protocol: "TCP" },
        ],
      },
      {
        to: [
          {
            namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "mlflow" } },
            pod_selector: { match_labels: trackingServer.podLabels },
          },
        ],
        ports: [{ port: "5000", protocol: "TCP" }],
      },
      { ports: [{ port: "443", protocol: "TCP" }] },
    ]);
    const custom = onlyResource(
      synth(
        envConfig("staging", {
          auth: {
            issuerUrl: "https://sso.example.com:8443/realms/ml",
            extraJwtIssuers: [{ issuer: "https://token.actions.githubusercontent.com", audience: "mlflow" }],
          },
        }),
      ).json,
      "kubernetes_network_policy_v1",
    );
    expect(custom.spec.egress[2]).toEqual({
      ports: [
        { port: "443", protocol: "TCP" },
        { port: "8443", protocol: "TCP" },
      ],
    });
  });

  it("derives issuer ports from URLs", () => {
    expect(issuerPort("https://a.example.com/realms/x")).toBe(443);
    expect(issuerPort("https://a.example.com:9443")).toBe(9443);
    expect(issuerPort("http://127.0.0.1/oidc")).toBe(80);
  });

  it("can leave egress open, or be turned off", () => {
    const open = onlyResource(synth(staging, { restrictEgress: false }).json, "kubernetes_network_policy_v1");
    expect(open.spec.policy_types).toEqual(["Ingress"]);
    expect(open.spec.egress).toBeUndefined();
    expect(resourcesOf(synth(staging, { networkPolicy: false }).json, "kubernetes_network_policy_v1")).toEqual({});
  });
});

describe("AuthProxy ordering", () => {
  it("every resource in the namespace waits for what dependsOn names (the namespace), directly or through the Deployment", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "test");
    const ns = new NamespaceV1(stack, "ns", { metadata: { name: "mlflow" } });
    // Secrets Manager source: the managed client Secret too; staging autoscales: the HPA too.
    new AuthProxy(stack, "auth_proxy", authProxyProps(envConfig("staging"), { trackingServer, dependsOn: [ns] }));
    const out = JSON.parse(Testing.synth(stack)) as TfJson;
    const namespaced = Object.entries(out.resource ?? {})
      .filter(([type]) => type.startsWith("kubernetes_") && type !== "kubernetes_namespace_v1")
      .flatMap(([type, byName]) => Object.entries(byName).map(([n, r]) => [`${type}.${n}`, r as Record<string, any>] as const));
    expect(namespaced.map(([a]) => a.split(".")[0]).sort()).toEqual([
      "kubernetes_deployment_v1",
      "kubernetes_horizontal_pod_autoscaler_v2",
      "kubernetes_network_policy_v1",
      "kubernetes_pod_disruption_budget_v1",
      "kubernetes_secret_v1",
      "kubernetes_secret_v1",
      "kubernetes_service_account_v1",
      "kubernetes_service_v1",
    ]);
    const deploymentAddress = namespaced.find(([a]) => a.startsWith("kubernetes_deployment_v1."))![0];
    for (const [address, r] of namespaced) {
      expect(r.metadata.namespace).toBe("mlflow");
      const waitsFor = address.startsWith("kubernetes_horizontal_pod_autoscaler_v2.") ? deploymentAddress : "kubernetes_namespace_v1.ns";
      expect([address, r.depends_on]).toEqual([address, expect.arrayContaining([waitsFor])]);
    }
  });
});

describe("AuthProxy validation (synth time)", () => {
  it.each([
    [
      "empty tracking server labels",
      { trackingServer: { ...trackingServer, podLabels: {} } },
      /trackingServer\.podLabels is \{\}: expected the labels that select the tracking server's pods/,
    ],
    [
      "tracking server labels that also select the proxy",
      { trackingServer: { ...trackingServer, podLabels: authProxyPodLabels(staging.project) } },
      /trackingServer\.podLabels is .*: expected labels that do not also select the proxy's pods/,
    ],
    [
      "bad namespace",
      { trackingServer: { ...trackingServer, namespace: "ML_flow" } },
      /trackingServer\.namespace is "ML_flow": expected a Kubernetes namespace name/,
    ],
    ["bad port", { trackingServer: { ...trackingServer, port: 70000 } }, /trackingServer\.port is 70000: expected a port number/],
    [
      "bad monitoring namespace",
      { monitoringNamespace: "Monitoring" },
      /monitoringNamespace is "Monitoring": expected a Kubernetes namespace name/,
    ],
    [
      "empty Prometheus selector",
      { prometheusPodLabels: {} },
      /prometheusPodLabels is \{\}: expected the labels of the Prometheus pods.*must not be empty/,
    ],
    ["invalid Prometheus label key", { prometheusPodLabels: { "-bad": "x" } }, /prometheusPodLabels .* has an invalid label key "-bad"/],
    [
      "CPU target out of range",
      { targetCpuUtilizationPercent: 5 },
      /targetCpuUtilizationPercent is 5: expected a whole number from 10 to 100/,
    ],
  ])("refuses %s", (_what, props, message) => {
    expect(() => synth(staging, props as Partial<AuthProxyProps>)).toThrow(message);
  });

  it("refuses autoscaling without room to scale", () => {
    expect(() => synth(envConfig("staging", { auth: { replicas: { min: 2, max: 2 } } }), { autoscaling: true })).toThrow(
      /replicas\.max is 2: expected above replicas\.min \(2\) with autoscaling/,
    );
  });

  it("refuses an operator client secret named like the generated cookie Secret", () => {
    expect(() =>
      synth(envConfig("staging", { auth: { clientSecret: { source: "kubernetes", secretName: "oauth2-proxy-cookie" } } })),
    ).toThrow(/clientSecret\.secretName is "oauth2-proxy-cookie": expected a name other than/);
  });
});
