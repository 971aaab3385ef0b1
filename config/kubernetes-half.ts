/**
 * The part of an environment's configuration the Kubernetes half reads (the tracking server, the proxy,
 * monitoring): the same on every cloud. An AWS and a GCP environment both satisfy it, so the from-config
 * mappings of those features serve the stacks of either cloud.
 */
import type { EnvironmentConfig } from "./schema";
import { certificateCoverageProblem } from "../constructs/core/aws-limits";

export type KubernetesEnvironment = Pick<
  EnvironmentConfig,
  | "name"
  | "project"
  | "production"
  | "hostname"
  | "mlflow"
  | "auth"
  | "monitoring"
  | "events"
  | "training"
  | "serving"
  | "registry"
  | "teams"
  | "access"
> & {
  readonly ingress: Pick<EnvironmentConfig["ingress"], "vpcCidrs" | "idleTimeoutSeconds" | "deregistrationDelaySeconds">;
};

/**
 * What exposing Grafana needs on a cloud whose entry is a Gateway (GKE, AKS): sign-in, a host name the Gateway's
 * certificate covers, and a Grafana the stack installs. The AWS schema checks the same (config/schema.ts).
 */
export function grafanaExposureProblems(env: {
  readonly monitoring: Pick<EnvironmentConfig["monitoring"], "grafanaHostname" | "grafanaOidc" | "mode">;
  readonly ingress: { readonly certificateDomains: readonly string[] };
}): { path: (string | number)[]; message: string }[] {
  const m = env.monitoring;
  if (!m.grafanaHostname) return [];
  const out: { path: (string | number)[]; message: string }[] = [];
  if (!m.grafanaOidc)
    out.push({
      path: ["monitoring", "grafanaOidc"],
      message:
        "Grafana's sign-in endpoints (authUrl, tokenUrl, userInfoUrl from the issuer's discovery document) when monitoring.grafanaHostname is set: Grafana is never exposed without sign-in",
    });
  const covered = certificateCoverageProblem(env.ingress.certificateDomains, m.grafanaHostname, "ingress.certificateDomains");
  if (covered) out.push({ path: ["monitoring", "grafanaHostname"], message: covered });
  if (m.mode !== "install")
    out.push({
      path: ["monitoring", "grafanaHostname"],
      message: 'nothing in "existing" mode: the stack installs no Grafana there to expose',
    });
  return out;
}

/**
 * How models may be exposed on a cloud whose entry is a Gateway (GKE, AKS): in the cluster only (`none`), or each
 * through its own OAuth2 Proxy behind an HTTPRoute for `<model>.<serving.ingress.domain>` on `ingress.gatewayRef`
 * (`ingress`), whose listener certificate must cover that name. API Gateway is AWS's.
 */
export function gatewayExposureProblems(
  env: {
    readonly serving: Pick<EnvironmentConfig["serving"], "exposure" | "ingress" | "models">;
    readonly ingress: { readonly certificateDomains: readonly string[] };
  },
  environment: string,
): { path: (string | number)[]; message: string }[] {
  const s = env.serving;
  if (s.exposure === "apiGateway")
    return [
      {
        path: ["serving", "exposure"],
        message: `"none" or "ingress" on ${environment}: API Gateway is AWS's; "ingress" exposes each model through the environment's Gateway (ingress.gatewayRef)`,
      },
    ];
  if (s.exposure !== "ingress" || !s.ingress) return [];
  const out: { path: (string | number)[]; message: string }[] = [];
  for (const model of Object.keys(s.models)) {
    const covered = certificateCoverageProblem(
      env.ingress.certificateDomains,
      `${model}.${s.ingress.domain}`,
      "ingress.certificateDomains",
    );
    if (covered) {
      out.push({
        path: ["serving", "ingress", "domain"],
        message: `a domain whose model host names the Gateway's certificate covers: ${covered}`,
      });
      break;
    }
  }
  return out;
}
