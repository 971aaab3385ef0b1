import type { Construct } from "constructs";
import type { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import type { GcpEnvironmentConfig } from "../config/gcp";
import type { AzureEnvironmentConfig } from "../config/azure";
import type { ServiceContract, TrackingServerContract } from "../constructs/core/contracts";
import { AuthProxy } from "../constructs/auth-proxy";
import { authProxyProps } from "../constructs/auth-proxy/from-config";
import { MlflowIngress } from "../constructs/ingress";
import { Monitoring } from "../constructs/monitoring";
import { kubernetesMonitoringProps } from "../constructs/monitoring/from-config";
import { NetworkPolicies } from "../constructs/network-policies";
import { networkPoliciesProps, type CloudFlows } from "../constructs/network-policies/from-config";

/**
 * What a GCP and an Azure stack put in front of their tracking server, the same on both: the proxy, the HTTPRoute on
 * the environment's Gateway, monitoring, and the default-deny network policies of the namespaces the stack created
 * (with the cloud's own flows). The AWS stack composes more (an ALB or a Gateway, serving, training) and
 * keeps its own composition.
 */
export function gatewayFront(
  scope: Construct,
  config: GcpEnvironmentConfig | AzureEnvironmentConfig,
  deps: {
    readonly namespace: NamespaceV1;
    readonly trackingServer: TrackingServerContract;
    readonly cloud: CloudFlows;
    /** The registry events service, where it is on: Prometheus scrapes it and alerts when it falls behind. */
    readonly registryEvents?: ServiceContract & { readonly metricsPath: string };
  },
): { readonly authProxy: AuthProxy; readonly monitoring: Monitoring } {
  const authProxy = new AuthProxy(
    scope,
    "auth_proxy",
    authProxyProps(config, { trackingServer: deps.trackingServer, dependsOn: [deps.namespace] }),
  );
  new MlflowIngress(scope, "ingress", {
    hostname: config.hostname,
    kind: "gateway-api",
    gatewayRef: config.ingress.gatewayRef,
    certificateDomains: config.ingress.certificateDomains,
    idleTimeoutSeconds: config.ingress.idleTimeoutSeconds,
    deregistrationDelaySeconds: config.ingress.deregistrationDelaySeconds,
    partOf: config.project,
    target: authProxy.contract,
    dependsOn: [authProxy.service],
  });

  // ── Monitoring and default-deny networking ───────────────────────────
  const monitoring = new Monitoring(
    scope,
    "monitoring",
    kubernetesMonitoringProps(config, {
      trackingServer: deps.trackingServer,
      authProxy: authProxy.contract,
      registryEvents: deps.registryEvents,
    }),
  );
  const created: [string, NamespaceV1][] = [[config.mlflow.namespace, deps.namespace]];
  const monitoringNamespace = monitoring.node.tryFindChild("namespace") as NamespaceV1 | undefined;
  if (monitoringNamespace) created.push([config.monitoring.namespace, monitoringNamespace]);
  new NetworkPolicies(scope, "network_policies", {
    ...networkPoliciesProps(config, { namespaces: created.map(([name]) => name), cloud: deps.cloud }),
    dependsOn: created.map(([, resource]) => resource),
  });
  return { authProxy, monitoring };
}
