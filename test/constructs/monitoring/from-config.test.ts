import { ConfigError } from "../../../config";
import { monitoringProps } from "../../../constructs/monitoring/from-config";
import { configured, envConfig, resourcesOf, SHIPPED, synthJson } from "../../helpers/synth";
import { authProxy, synthMonitoring, trackingServer } from "../../monitoring/fixtures";

const ALARM_TOPIC = "arn:aws:sns:eu-west-1:111111111111:mlflow-dev-alarms";
const deps = { trackingServer, authProxy, alarmTopicArn: ALARM_TOPIC };
const valuesOf = (json: any) =>
  JSON.parse(Object.entries<any>(resourcesOf(json, "helm_release")).find(([k]) => k.includes("kube_prometheus_stack"))![1].values[0]);

const oidc = {
  authUrl: "https://login.example.com/realms/ml/protocol/openid-connect/auth",
  tokenUrl: "https://login.example.com/realms/ml/protocol/openid-connect/token",
  userInfoUrl: "https://login.example.com/realms/ml/protocol/openid-connect/userinfo",
};

describe.each(SHIPPED)("monitoring of the shipped environment %s", (name) => {
  const config = configured(name);
  const props = monitoringProps(config, deps);
  const { json } = synthMonitoring(props);
  const values = valuesOf(json);

  it("takes retention, storage and thresholds from the configuration", () => {
    expect(values.prometheus.prometheusSpec.retention).toBe(`${config.monitoring.retentionDays}d`);
    expect(values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage).toBe(
      `${config.monitoring.storageGb}Gi`,
    );
    expect(props.thresholds).toEqual(config.monitoring.thresholds);
  });

  it("keeps Grafana internal unless grafanaHostname is configured", () => {
    if (config.monitoring.grafanaHostname) {
      expect(values.grafana.ingress).toMatchObject({ enabled: true, hosts: [config.monitoring.grafanaHostname] });
      return;
    }
    expect(values.grafana.ingress).toEqual({ enabled: false });
  });
});

describe("monitoring configuration", () => {
  it("per-environment retention: dev keeps 7 days on 20 GiB, prod 30 days on 200 GiB", () => {
    expect(monitoringProps(envConfig("dev"), deps)).toMatchObject({ retentionDays: 7, storageGb: 20 });
    expect(monitoringProps(envConfig("prod"), deps)).toMatchObject({ retentionDays: 30, storageGb: 200 });
  });

  it("passes Slack and SMTP settings, and subscribes only the alert recipients the alarm topic lacks", () => {
    const config = envConfig("staging", {
      monitoring: {
        slack: { channel: "#mlflow-alerts", webhookSecretName: "alertmanager-slack" },
        email: { to: ["ml-platform@example.com", "oncall@example.com"], from: "am@example.com", smarthost: "smtp.example.com:587" },
      },
    });
    const props = monitoringProps(config, deps);
    expect(props.slack).toEqual({ channel: "#mlflow-alerts", webhookSecretName: "alertmanager-slack" });
    expect(props.email).toMatchObject({ to: ["ml-platform@example.com", "oncall@example.com"], smarthost: "smtp.example.com:587" });
    // ml-platform@example.com is in notifications.emails: the backend store subscribes it already.
    expect(props.alarmEmails).toEqual(["oncall@example.com"]);
    const subs = Object.values(resourcesOf(synthMonitoring(props).json, "aws_sns_topic_subscription"));
    expect(subs).toEqual([{ topic_arn: ALARM_TOPIC, protocol: "email", endpoint: "oncall@example.com" }]);
  });

  it("with teams, makes the platform administrators' group Grafana's admins too (once), and changes nothing without", () => {
    const monitoring = { grafanaHostname: "grafana-dev.example.com", grafanaOidc: { ...oidc, adminGroups: ["ml-admins"] } };
    const roleOf = (config: ReturnType<typeof envConfig>) =>
      valuesOf(synthMonitoring(monitoringProps(config, deps)).json).grafana["grafana.ini"]["auth.generic_oauth"].role_attribute_path;
    const teams = { teams: [{ name: "team-a", groups: ["team-a-ds"] }], access: { platformAdminsGroup: "platform-admins" } };
    expect(roleOf(envConfig("dev", { monitoring, ...teams }))).toBe(
      "contains(groups[*], 'ml-admins') || contains(groups[*], 'platform-admins') && 'Admin' || 'Viewer'",
    );
    expect(roleOf(envConfig("dev", { monitoring, ...teams, access: { platformAdminsGroup: "ml-admins" } }))).toBe(
      "contains(groups[*], 'ml-admins') && 'Admin' || 'Viewer'",
    );
    expect(roleOf(envConfig("dev", { monitoring }))).toBe("contains(groups[*], 'ml-admins') && 'Admin' || 'Viewer'");
  });

  it("exposes Grafana with the environment's certificate, issuer, client and allowed domains", () => {
    const config = envConfig("dev", {
      monitoring: { grafanaHostname: "grafana-dev.example.com", grafanaOidc: { ...oidc, adminGroups: ["ml-admins"] } },
    });
    const g = valuesOf(synthMonitoring(monitoringProps(config, deps)).json).grafana;
    expect(g.ingress.hosts).toEqual(["grafana-dev.example.com"]);
    expect(g.ingress.annotations["alb.ingress.kubernetes.io/certificate-arn"]).toBe(config.ingress.certificateArn);
    expect(g.ingress.annotations["alb.ingress.kubernetes.io/scheme"]).toBe("internal");
    // The controller creates Grafana's ALB: the provider's default tags never reach it, the annotation does.
    expect(g.ingress.annotations["alb.ingress.kubernetes.io/tags"]).toBe(
      "cost-center=ml-platform,project=mlflow,environment=dev,managed-by=cdktf",
    );
    expect(g["grafana.ini"]["auth.generic_oauth"]).toMatchObject({
      client_id: "mlflow-dev",
      auth_url: oidc.authUrl,
      allowed_domains: "example.com",
      scopes: "openid email profile groups",
      role_attribute_path: "contains(groups[*], 'ml-admins') && 'Admin' || 'Viewer'",
    });
    // A Secrets Manager client secret is copied into grafana-oidc-client; a Kubernetes one is mounted under its own name.
    const secret = config.auth.clientSecret;
    expect(g.extraSecretMounts[0].secretName).toBe(secret.source === "secrets-manager" ? "grafana-oidc-client" : secret.secretName);
  });

  it("refuses a Grafana hostname without sign-in endpoints, naming the field", () => {
    expect(() => envConfig("dev", { monitoring: { grafanaHostname: "grafana-dev.example.com" } })).toThrow(
      /field monitoring\.grafanaOidc = nothing: expected Grafana's sign-in endpoints/,
    );
    expect(() => envConfig("dev", { monitoring: { grafanaHostname: "grafana-dev.example.com" } })).toThrow(ConfigError);
  });

  it("refuses non-https sign-in endpoints", () => {
    expect(() =>
      envConfig("dev", { monitoring: { grafanaHostname: "grafana-dev.example.com", grafanaOidc: { ...oidc, tokenUrl: "ftp://x" } } }),
    ).toThrow(/monitoring\.grafanaOidc\.tokenUrl/);
  });

  it("in existing mode ships only the ServiceMonitors, rules and dashboards into the configured namespace", () => {
    const props = monitoringProps(envConfig("dev", { monitoring: { mode: "existing", namespace: "observability" } }), deps);
    const json = synthMonitoring(props).json;
    expect(Object.keys(resourcesOf(json, "helm_release"))).toEqual([expect.stringMatching(/^monitoring_resources_/)]);
    expect(Object.values(resourcesOf(json, "helm_release"))[0].namespace).toBe("observability");
  });
});

describe("monitoring in the environment stack", () => {
  const json = synthJson(envConfig("dev"));
  const releases = resourcesOf(json, "helm_release");
  const objects = JSON.parse(Object.entries<any>(releases).find(([k]) => k.startsWith("monitoring_resources_"))![1].values[0]).resources;
  const services = Object.values(resourcesOf(json, "kubernetes_service_v1"));

  it.each(["mlflow-tracking-server", "mlflow-oauth2-proxy"])(
    "ServiceMonitor %s selects exactly one real Service, on a port that Service has",
    (name) => {
      const sm = objects.find((o: any) => o.kind === "ServiceMonitor" && o.metadata.name === name);
      const wanted: Record<string, string> = sm.spec.selector.matchLabels;
      const matching = services.filter(
        (svc) =>
          sm.spec.namespaceSelector.matchNames.includes(svc.metadata.namespace) &&
          Object.entries(wanted).every(([k, v]) => svc.metadata.labels?.[k] === v),
      );
      expect(matching).toHaveLength(1);
      const portNames = matching[0].spec.port.map((p: any) => p.name);
      expect(portNames).toContain(sm.spec.endpoints[0].port);
    },
  );

  it("installs kube-prometheus-stack at the pinned version and subscribes nobody extra to the RDS alarm topic by default", () => {
    const kps = Object.entries<any>(releases).find(([k]) => k.startsWith("monitoring_kube_prometheus_stack_"))![1];
    expect(kps.version).toBe("88.5.3");
    expect(Object.keys(resourcesOf(json, "aws_sns_topic_subscription")).filter((k) => k.startsWith("monitoring_"))).toEqual([]);
  });
});
