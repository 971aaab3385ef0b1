import * as fs from "fs";
import * as path from "path";
import { Testing } from "cdktf";
import { resourcesOf, onlyResource, type TfJson } from "../../helpers/synth";
import { authProxy, synthMonitoring, trackingServer } from "../../monitoring/fixtures";
import { KUBE_PROMETHEUS_STACK_VERSION, type MonitoringProps } from "../../../constructs/monitoring";
import { allRules as allPolicies } from "../../../policies";

const release = (json: TfJson, id: "kube_prometheus_stack" | "resources") => {
  const found = Object.entries(resourcesOf(json, "helm_release")).filter(([name]) => name.startsWith(`monitoring_${id}_`));
  expect(found).toHaveLength(1);
  return found[0][1];
};
const valuesOf = (r: Record<string, any>) => {
  expect(r.values).toHaveLength(1);
  return JSON.parse(r.values[0]);
};
const byKind = (objects: any[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

const routing: Partial<MonitoringProps> = {
  slack: { channel: "#mlflow-alerts", webhookSecretName: "alertmanager-slack" },
  email: {
    to: ["ml-platform@example.com"],
    from: "alertmanager@example.com",
    smarthost: "email-smtp.eu-west-1.amazonaws.com:587",
    authUsername: "AKIAEXAMPLE",
    authPasswordSecretName: "alertmanager-smtp",
  },
};
const grafana: MonitoringProps["grafana"] = {
  hostname: "grafana-dev.example.com",
  kind: "alb",
  certificateArn: "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-000000000001",
  scheme: "internal",
  sso: {
    issuerUrl: "https://login.example.com/realms/ml",
    authUrl: "https://login.example.com/realms/ml/protocol/openid-connect/auth",
    tokenUrl: "https://login.example.com/realms/ml/protocol/openid-connect/token",
    userInfoUrl: "https://login.example.com/realms/ml/protocol/openid-connect/userinfo",
    clientId: "mlflow-dev",
    clientSecret: { kubernetes: { name: "oauth2-proxy-client", key: "client-secret" } },
    allowedEmailDomains: ["example.com"],
    adminGroups: ["ml-platform-admins"],
  },
};

describe("Monitoring, install mode", () => {
  const { json, monitoring } = synthMonitoring({ ...routing, retentionDays: 7, storageGb: 20 });
  const stack = release(json, "kube_prometheus_stack");
  const values = valuesOf(stack);

  it("installs kube-prometheus-stack from its OCI registry at an exact chart version", () => {
    expect(KUBE_PROMETHEUS_STACK_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    expect(stack.version).toBe(KUBE_PROMETHEUS_STACK_VERSION);
    expect(stack.chart).toBe("kube-prometheus-stack");
    expect(stack.repository).toBe("oci://ghcr.io/prometheus-community/charts");
    expect(stack.namespace).toBe("monitoring");
    expect(stack.atomic).toBe(true);
  });

  it("opens Prometheus' selectors: ServiceMonitors, PodMonitors and rules from every namespace, whatever their labels", () => {
    const spec = values.prometheus.prometheusSpec;
    for (const k of ["serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"]) {
      expect(spec[`${k}SelectorNilUsesHelmValues`]).toBe(false);
    }
    expect(spec.serviceMonitorSelector).toEqual({});
    expect(spec.serviceMonitorNamespaceSelector).toEqual({});
    expect(spec.ruleSelector).toEqual({});
    expect(spec.ruleNamespaceSelector).toEqual({});
  });

  it("sizes retention and storage per environment, and caps retention below the volume alert", () => {
    const spec = values.prometheus.prometheusSpec;
    expect(spec.retention).toBe("7d");
    expect(spec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage).toBe("20Gi");
    expect(spec.retentionSize).toBe("16GB"); // 80% of 20 GiB: below the 85% PrometheusVolumeFillingUp threshold
    expect(spec.storageSpec.volumeClaimTemplate.spec.storageClassName).toBeUndefined();
  });

  it("runs Grafana with admin credentials from a generated Secret and the dashboards sidecar on", () => {
    expect(values.grafana.admin).toEqual({ existingSecret: "grafana-admin", userKey: "admin-user", passwordKey: "admin-password" });
    expect(values.grafana.adminPassword).toBeUndefined();
    expect(values.grafana.sidecar.dashboards).toMatchObject({
      enabled: true,
      label: "grafana_dashboard",
      labelValue: "1",
      searchNamespace: "ALL",
    });
    const secret = onlyResource(json, "kubernetes_secret_v1");
    expect(secret.metadata).toMatchObject({ name: "grafana-admin", namespace: "monitoring" });
    expect(secret.data["admin-password"]).toMatch(/^\$\{random_password\.monitoring_grafana_admin_password_[A-F0-9]+\.result\}$/);
    expect(secret.data["admin-user"]).toMatch(/^admin-\$\{random_string\.monitoring_grafana_admin_user_[A-F0-9]+\.result\}$/);
    expect(onlyResource(json, "random_password")).toMatchObject({ length: 32 });
    expect(stack.depends_on).toContain(`kubernetes_secret_v1.${Object.keys(resourcesOf(json, "kubernetes_secret_v1"))[0]}`);
  });

  it("keeps Grafana in-cluster without a hostname: no Ingress, ClusterIP, anonymous access off", () => {
    expect(values.grafana.ingress).toEqual({ enabled: false });
    expect(values.grafana.service).toEqual({ type: "ClusterIP" });
    expect(values.grafana["grafana.ini"]["auth.anonymous"]).toEqual({ enabled: false });
  });

  it("routes alerts per severity to Slack (URL from a mounted Secret) and e-mail (SMTP password from a mounted Secret)", () => {
    const am = values.alertmanager;
    expect(am.alertmanagerSpec.secrets).toEqual(["alertmanager-slack", "alertmanager-smtp"]);
    const receivers = Object.fromEntries(am.config.receivers.map((r: any) => [r.name, r]));
    expect(receivers.critical.slack_configs[0].api_url_file).toBe("/etc/alertmanager/secrets/alertmanager-slack/url");
    expect(receivers.critical.slack_configs[0].api_url).toBeUndefined();
    expect(receivers.critical.slack_configs[0].channel).toBe("#mlflow-alerts");
    expect(receivers.critical.email_configs[0]).toMatchObject({
      to: "ml-platform@example.com",
      from: "alertmanager@example.com",
      smarthost: "email-smtp.eu-west-1.amazonaws.com:587",
      auth_username: "AKIAEXAMPLE",
      auth_password_file: "/etc/alertmanager/secrets/alertmanager-smtp/password",
      require_tls: true,
    });
    expect(receivers.critical.email_configs[0].auth_password).toBeUndefined();
    expect(receivers.warning.slack_configs).toHaveLength(1);
    expect(receivers.warning.email_configs).toBeUndefined();
    expect(am.config).toEqual(monitoring.alertmanagerConfig);
  });

  it("puts no secret value in any value or resource: only references", () => {
    const text = JSON.stringify(json);
    expect(text).not.toMatch(/hooks\.slack\.com/);
    expect(text).not.toMatch(/adminPassword|\\"api_url\\"|\\"auth_password\\"/);
    // Terraform would read `${...}` / `%{...}` in values as interpolation: the values carry none.
    for (const r of Object.values(resourcesOf(json, "helm_release"))) expect(r.values[0]).not.toMatch(/\$\{|%\{/);
  });

  it("passes every synth-time policy (MLF-SEC-1 included), with Slack, SMTP, Grafana SSO and a copied client secret", () => {
    const full = synthMonitoring({
      ...routing,
      grafana: {
        ...grafana,
        sso: { ...grafana.sso, clientSecret: { secretsManagerArn: "arn:aws:secretsmanager:eu-west-1:111111111111:secret:oidc-AbCdEf" } },
      },
    }).json;
    expect(allPolicies().flatMap((p) => p.check(full as any))).toEqual([]);
  });

  it("creates the monitoring namespace with Pod Security baseline enforced and restricted warned", () => {
    const ns = onlyResource(json, "kubernetes_namespace_v1");
    expect(ns.metadata.name).toBe("monitoring");
    expect(ns.metadata.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "baseline",
      "pod-security.kubernetes.io/warn": "restricted",
      "pod-security.kubernetes.io/audit": "restricted",
    });
    expect(values.nodeExporter).toEqual({ enabled: false });
  });
});

describe("Monitoring: ServiceMonitors and rules (local chart)", () => {
  const { json, monitoring } = synthMonitoring();
  const resources = release(json, "resources");
  const objects = valuesOf(resources).resources;

  it("installs the custom resources with a local chart after kube-prometheus-stack (its CRDs), never kubernetes_manifest", () => {
    expect(resourcesOf(json, "kubernetes_manifest")).toEqual({});
    expect(resources.chart).toMatch(/^\.\/assets\/monitoring_chart_[A-F0-9]+\/[A-F0-9]+$/);
    expect(resources.depends_on).toContain(
      `helm_release.${Object.keys(resourcesOf(json, "helm_release")).find((k) => k.includes("kube_prometheus_stack"))}`,
    );
    expect(objects.map((o: any) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "ServiceMonitor/mlflow-tracking-server",
      "ServiceMonitor/mlflow-oauth2-proxy",
      "PrometheusRule/mlflow-platform",
    ]);
  });

  it("ships the chart into the stack's output, with its one template", () => {
    const outdir = Testing.fullSynth(synthMonitoring().stack);
    const chartDir = path.join(outdir, "stacks", "test", resources.chart);
    expect(fs.existsSync(path.join(chartDir, "Chart.yaml"))).toBe(true);
    expect(fs.readFileSync(path.join(chartDir, "templates", "resources.yaml"), "utf8")).toContain("range .Values.resources");
  });

  it("selects the tracking server's Service by its labels and scrapes its named port and metrics path", () => {
    const sm = byKind(objects, "ServiceMonitor", "mlflow-tracking-server");
    expect(sm.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(sm.metadata.namespace).toBe("monitoring");
    expect(sm.spec.namespaceSelector).toEqual({ matchNames: [trackingServer.namespace] });
    expect(sm.spec.selector).toEqual({ matchLabels: trackingServer.serviceLabels });
    expect(sm.spec.endpoints).toEqual([
      { port: trackingServer.portName, path: trackingServer.metricsPath, scheme: "http", interval: "30s", scrapeTimeout: "10s" },
    ]);
  });

  it("selects the proxy's Service by its labels and scrapes its metrics port", () => {
    const sm = byKind(objects, "ServiceMonitor", "mlflow-oauth2-proxy");
    expect(sm.spec.namespaceSelector).toEqual({ matchNames: [authProxy.namespace] });
    expect(sm.spec.selector).toEqual({ matchLabels: authProxy.serviceLabels });
    expect(sm.spec.endpoints[0]).toMatchObject({ port: authProxy.metricsPortName, path: "/metrics" });
  });

  it("deploys exactly the rule objects the promtool tests check", () => {
    const rule = byKind(objects, "PrometheusRule", "mlflow-platform");
    expect(rule.spec.groups).toEqual(JSON.parse(JSON.stringify(monitoring.ruleGroups)));
    // The rules select the contracts' Services: the job label of a ServiceMonitor target is the Service's name.
    const exprs = rule.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.expr)).join("\n");
    expect(exprs).toContain('up{namespace="mlflow",job="mlflow"}');
    expect(exprs).toContain('oauth2_proxy_requests_total{namespace="mlflow",job="oauth2-proxy",code=~"401|403"}');
  });

  it("ships each dashboard in a ConfigMap labelled for Grafana's sidecar", () => {
    const maps = Object.values(resourcesOf(json, "kubernetes_config_map_v1"));
    expect(maps.map((m) => m.metadata.name).sort()).toEqual([
      "dashboard-mlflow-pods",
      "dashboard-mlflow-sign-in",
      "dashboard-mlflow-tracking",
    ]);
    for (const m of maps) {
      expect(m.metadata.namespace).toBe("monitoring");
      expect(m.metadata.labels.grafana_dashboard).toBe("1");
      const [file, body] = Object.entries<string>(m.data)[0];
      const dashboard = JSON.parse(body);
      expect(file).toBe(`${dashboard.uid}.json`);
      expect(dashboard.panels.length).toBeGreaterThan(5);
      expect(monitoring.dashboards.map((d) => d.uid)).toContain(dashboard.uid);
      for (const p of dashboard.panels) expect(p.datasource).toEqual({ type: "prometheus", uid: "prometheus" });
    }
  });

  it("adds configured selector labels for an existing Prometheus", () => {
    const objs = valuesOf(release(synthMonitoring({ mode: "existing", selectorLabels: { release: "prom" } }).json, "resources")).resources;
    for (const o of objs) expect(o.metadata.labels.release).toBe("prom");
  });
});

describe("Monitoring, existing mode", () => {
  const { json } = synthMonitoring({ mode: "existing", namespace: "observability" });

  it("installs no chart, namespace or Grafana secret, but still ships ServiceMonitors, rules and dashboards", () => {
    const releases = Object.keys(resourcesOf(json, "helm_release"));
    expect(releases).toHaveLength(1);
    expect(releases[0]).toMatch(/^monitoring_resources_/);
    expect(resourcesOf(json, "kubernetes_namespace_v1")).toEqual({});
    expect(resourcesOf(json, "kubernetes_secret_v1")).toEqual({});
    const resources = release(json, "resources");
    expect(resources.namespace).toBe("observability");
    expect(resources.depends_on).toBeUndefined();
    expect(Object.keys(resourcesOf(json, "kubernetes_config_map_v1"))).toHaveLength(3);
  });

  it("watches the volume of the existing Prometheus in its namespace", () => {
    const objs = valuesOf(release(json, "resources")).resources;
    const rule = byKind(objs, "PrometheusRule", "mlflow-platform");
    const volume = rule.spec.groups.flatMap((g: any) => g.rules).find((r: any) => r.alert === "PrometheusVolumeFillingUp");
    expect(volume.expr).toContain('namespace="observability"');
    expect(volume.labels.namespace).toBe("observability");
  });
});

describe("Monitoring: Grafana behind sign-on", () => {
  const { json } = synthMonitoring({ grafana });
  const g = valuesOf(release(json, "kube_prometheus_stack")).grafana;

  it("exposes Grafana through an HTTPS-only ALB Ingress with the certificate", () => {
    expect(g.ingress).toMatchObject({ enabled: true, ingressClassName: "alb", hosts: ["grafana-dev.example.com"] });
    expect(g.ingress.annotations).toEqual({
      "alb.ingress.kubernetes.io/scheme": "internal",
      "alb.ingress.kubernetes.io/target-type": "ip",
      "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS":443}]',
      "alb.ingress.kubernetes.io/certificate-arn": grafana.certificateArn,
      "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
      "alb.ingress.kubernetes.io/healthcheck-path": "/api/health",
    });
  });

  it("signs in only through the issuer: no login form, no basic auth, restricted to the allowed domains", () => {
    const ini = g["grafana.ini"];
    expect(ini.server.root_url).toBe("https://grafana-dev.example.com/");
    expect(ini.auth).toEqual({ disable_login_form: true, oauth_auto_login: true });
    expect(ini["auth.basic"]).toEqual({ enabled: false });
    expect(ini["auth.generic_oauth"]).toMatchObject({
      enabled: true,
      client_id: "mlflow-dev",
      use_pkce: true,
      auth_url: grafana.sso.authUrl,
      token_url: grafana.sso.tokenUrl,
      api_url: grafana.sso.userInfoUrl,
      allowed_domains: "example.com",
      role_attribute_path: "contains(groups[*], 'ml-platform-admins') && 'Admin' || 'Viewer'",
    });
    expect(ini["auth.generic_oauth"].client_secret).toBe("$__file{/etc/secrets/oidc-client/client-secret}");
    expect(ini.security).toMatchObject({ cookie_secure: true });
  });

  it("reads the OIDC client secret from a mounted Secret (Grafana's $__file expansion), never from values", () => {
    expect(g.extraSecretMounts).toEqual([
      { name: "oidc-client-secret", secretName: "oauth2-proxy-client", mountPath: "/etc/secrets/oidc-client", readOnly: true },
    ]);
    expect(g.envValueFrom).toBeUndefined();
  });

  it("copies a Secrets Manager client secret into the monitoring namespace by reference (the value stays in state)", () => {
    const j = synthMonitoring({
      grafana: {
        ...grafana,
        sso: { ...grafana.sso, clientSecret: { secretsManagerArn: "arn:aws:secretsmanager:eu-west-1:111111111111:secret:oidc-AbCdEf" } },
      },
    }).json;
    const secrets = Object.values(resourcesOf(j, "kubernetes_secret_v1"));
    const client = secrets.find((s) => s.metadata.name === "grafana-oidc-client")!;
    expect(client.data["client-secret"]).toMatch(
      /^\$\{data\.aws_secretsmanager_secret_version\.monitoring_grafana_oidc_client_secret_source_[A-F0-9]+\.secret_string\}$/,
    );
    expect(Object.values((j.data as any).aws_secretsmanager_secret_version)[0]).toMatchObject({
      secret_id: "arn:aws:secretsmanager:eu-west-1:111111111111:secret:oidc-AbCdEf",
    });
    expect(valuesOf(release(j, "kube_prometheus_stack")).grafana.extraSecretMounts[0]).toMatchObject({ secretName: "grafana-oidc-client" });
  });

  it("attaches an HTTPRoute to the Gateway with gateway-api", () => {
    const j = synthMonitoring({ grafana: { ...grafana, kind: "gateway-api", gatewayRef: { namespace: "gateways", name: "public" } } }).json;
    const v = valuesOf(release(j, "kube_prometheus_stack")).grafana;
    expect(v.ingress).toEqual({ enabled: false });
    expect(v.route.main).toMatchObject({
      enabled: true,
      kind: "HTTPRoute",
      hostnames: ["grafana-dev.example.com"],
      parentRefs: [{ name: "public", namespace: "gateways" }],
    });
  });
});

describe("Monitoring: RDS alarms reach the same people", () => {
  it("subscribes the alert e-mail addresses to the alarm topic", () => {
    const { json } = synthMonitoring({ ...routing, alarmTopicArn: "arn:aws:sns:eu-west-1:111111111111:mlflow-dev-alarms" });
    const subs = Object.values(resourcesOf(json, "aws_sns_topic_subscription"));
    expect(subs).toEqual([
      { topic_arn: "arn:aws:sns:eu-west-1:111111111111:mlflow-dev-alarms", protocol: "email", endpoint: "ml-platform@example.com" },
    ]);
  });

  it("subscribes nobody without a topic", () => {
    expect(resourcesOf(synthMonitoring(routing).json, "aws_sns_topic_subscription")).toEqual({});
  });
});

describe("Monitoring: validation at synth", () => {
  const cases: [string, Partial<MonitoringProps>, RegExp][] = [
    [
      "an empty Service selector",
      { trackingServer: { ...trackingServer, serviceLabels: {} } },
      /trackingServer\.serviceLabels is \{\}: expected at least one label/,
    ],
    [
      "a proxy without a metrics port",
      { authProxy: { ...authProxy, metricsPortName: "" } },
      /authProxy\.metricsPortName is "": expected the name of the proxy Service's metrics port/,
    ],
    ["a chart version range", { chartVersion: "88.x" }, /chartVersion is "88\.x": expected an exact chart version/],
    [
      "p99 below p95",
      { thresholds: { latencyP95Seconds: 3, latencyP99Seconds: 2 } },
      /thresholds\.latencyP99Seconds is 2: expected at least latencyP95Seconds \(3\)/,
    ],
    [
      "an error ratio of 5 (percent, not a ratio)",
      { thresholds: { errorRatio: 5 } },
      /thresholds\.errorRatio is 5: expected a ratio between 0 and 1/,
    ],
    [
      "Grafana exposed in existing mode",
      { mode: "existing", grafana },
      /grafana is "grafana-dev\.example\.com": expected no Grafana exposure in "existing" mode/,
    ],
    [
      "Grafana without a certificate",
      { grafana: { ...grafana, certificateArn: undefined } },
      /grafana\.certificateArn is unset: expected the ACM certificate/,
    ],
    [
      "Grafana open to everyone",
      { grafana: { ...grafana, sso: { ...grafana.sso, allowedEmailDomains: [] } } },
      /grafana\.sso\.allowedGroups is \[\]: expected at least one allowed group or e-mail domain/,
    ],
    [
      "an SMTP user without a password Secret",
      { email: { ...routing.email!, authPasswordSecretName: undefined } },
      /email\.authPasswordSecretName is unset: expected the Secret holding the SMTP password/,
    ],
    ["a bad namespace", { namespace: "Monitoring" }, /namespace is "Monitoring": expected a DNS label/],
  ];
  it.each(cases)("refuses %s, naming the field", (_, props, message) => {
    expect(() => synthMonitoring(props)).toThrow(message);
  });

  it("warns when no alert channel is configured", () => {
    const { stack } = synthMonitoring();
    const warnings = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === "@cdktf/warn");
    expect(warnings.map((w) => String(w.data))).toEqual([expect.stringContaining("neither slack, discord nor email is configured")]);
  });
});
