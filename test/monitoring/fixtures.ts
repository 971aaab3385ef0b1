/**
 * Shared fixtures of the monitoring tests: the contracts a tracking server and a proxy hand to
 * Monitoring, and a synthesized Monitoring construct in a bare stack.
 */
import { Testing, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import type { AuthProxyContract, TrackingServerContract } from "../../constructs/core/contracts";
import { Monitoring, type MonitoringProps } from "../../constructs/monitoring";
import type { TfJson } from "../helpers/synth";

export const trackingServer: TrackingServerContract = {
  namespace: "mlflow",
  serviceName: "mlflow",
  port: 5000,
  portName: "http",
  podLabels: { "app.kubernetes.io/name": "mlflow", "app.kubernetes.io/component": "tracking-server" },
  serviceLabels: { "app.kubernetes.io/name": "mlflow", "app.kubernetes.io/component": "tracking-server" },
  metricsPath: "/metrics",
};

export const authProxy: AuthProxyContract = {
  namespace: "mlflow",
  serviceName: "oauth2-proxy",
  port: 4180,
  portName: "http",
  podLabels: { "app.kubernetes.io/name": "oauth2-proxy" },
  serviceLabels: { "app.kubernetes.io/name": "oauth2-proxy", "app.kubernetes.io/component": "auth-proxy" },
  metricsPort: 44180,
  metricsPortName: "metrics",
};

/** Builds a Monitoring construct in a bare stack and returns it with the stack's JSON. */
export function synthMonitoring(props: Partial<MonitoringProps> = {}): { monitoring: Monitoring; json: TfJson; stack: TerraformStack } {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new KubernetesProvider(stack, "kubernetes", {});
  new HelmProvider(stack, "helm", {});
  new RandomProvider(stack, "random");
  const monitoring = new Monitoring(stack, "monitoring", { trackingServer, authProxy, ...props });
  const json = JSON.parse(Testing.synth(stack)) as TfJson;
  return { monitoring, json, stack };
}
