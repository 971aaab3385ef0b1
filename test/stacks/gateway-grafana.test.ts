/**
 * Grafana exposed through the environment's Gateway on GKE and AKS, as MLflow is: an HTTPRoute for
 * `monitoring.grafanaHostname` on `ingress.gatewayRef`, Grafana's own sign-in against the platform's issuer, its
 * port open to the Gateway's ranges only. Refused without sign-in, with a host name the Gateway's certificate does not
 * cover, or without a Grafana the stack installs.
 */
import { azureConfig, azureProblems, synthAzure } from "../helpers/azure";
import { gcpConfig, gcpProblems, synthGcp } from "../helpers/gcp";
import { resourcesOf, type TfJson } from "../helpers/synth";

const oidc = {
  authUrl: "https://login.example.com/authorize",
  tokenUrl: "https://login.example.com/token",
  userInfoUrl: "https://login.example.com/userinfo",
  adminGroups: ["ml-platform-admins"],
};
const exposed = { monitoring: { grafanaHostname: "grafana.example.com", grafanaOidc: oidc } };

/** The HTTPRoute the kube-prometheus-stack chart renders for Grafana (its `grafana.route.main` values), if any. */
function grafanaRoute(json: TfJson): Record<string, any> | undefined {
  for (const release of Object.values(resourcesOf(json, "helm_release"))) {
    for (const v of (release.values ?? []) as string[]) {
      const route = (JSON.parse(v) as { grafana?: { route?: { main?: Record<string, any> } } }).grafana?.route?.main;
      if (route) return route;
    }
  }
  return undefined;
}

describe.each([
  [
    "GCP",
    () => synthGcp(gcpConfig(exposed)).json,
    () => synthGcp().json,
    gcpProblems,
    gcpConfig().ingress.gatewayRef,
    gcpConfig().ingress.vpcCidrs,
  ],
  [
    "Azure",
    () => synthAzure(azureConfig(exposed)).json,
    () => synthAzure().json,
    azureProblems,
    azureConfig().ingress.gatewayRef,
    azureConfig().ingress.vpcCidrs,
  ],
] as const)("Grafana through the Gateway on %s", (_cloud, exposedJson, plainJson, problems, gatewayRef, vpcCidrs) => {
  it("routes grafanaHostname on the environment's Gateway to Grafana, and nothing without it", () => {
    expect(grafanaRoute(exposedJson())).toEqual({
      enabled: true,
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      hostnames: ["grafana.example.com"],
      parentRefs: [{ namespace: gatewayRef.namespace, name: gatewayRef.name }],
    });
    expect(grafanaRoute(plainJson())).toBeUndefined();
  });

  it("opens Grafana's port to the Gateway's ranges (ingress.vpcCidrs) only when it is exposed", () => {
    const grafanaIngress = (json: TfJson) =>
      Object.values(resourcesOf(json, "kubernetes_network_policy_v1"))
        .filter((p) => p.metadata.namespace === "monitoring")
        .flatMap((p) => p.spec.ingress ?? [])
        .filter((r: { ports?: { port: string }[] }) => (r.ports ?? []).some((p) => p.port === "3000"));
    const rules = grafanaIngress(exposedJson());
    expect(rules).toHaveLength(1);
    expect(rules[0].from.map((f: { ip_block: { cidr: string } }) => f.ip_block.cidr).sort()).toEqual([...vpcCidrs].sort());
    expect(grafanaIngress(plainJson())).toEqual([]);
  });

  it("refuses Grafana without sign-in, outside the certificate, or in existing mode", () => {
    const p = (o: Record<string, unknown>) => problems(o).join("\n");
    expect(p({ monitoring: { grafanaHostname: "grafana.example.com" } })).toMatch(
      /field monitoring.grafanaOidc .*Grafana is never exposed without sign-in/,
    );
    expect(p({ monitoring: { grafanaHostname: "grafana.other.org", grafanaOidc: oidc } })).toMatch(
      /field monitoring.grafanaHostname = "grafana.other.org": expected .*ingress.certificateDomains/,
    );
    expect(p({ monitoring: { ...exposed.monitoring, mode: "existing" } })).toMatch(/field monitoring.grafanaHostname .*"existing" mode/);
  });
});
