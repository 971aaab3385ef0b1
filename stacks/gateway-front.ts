import type { Construct } from "constructs";
import type { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import type { GcpEnvironmentConfig } from "../config/gcp";
import type { AzureEnvironmentConfig } from "../config/azure";
import type { ServiceContract, TrackingServerContract } from "../constructs/core/contracts";
import { AuthProxy } from "../constructs/auth-proxy";
import type { Training } from "../constructs/training";
import { authProxyProps, workloadIdentitiesOf } from "../constructs/auth-proxy/from-config";
import {
  WORKLOAD_IDENTITIES_CONFIGMAP,
  WORKLOAD_IDENTITIES_KEY,
  workloadIdentitiesFileContent,
} from "../constructs/auth-proxy/oauth2-proxy-command";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { MlflowIngress } from "../constructs/ingress";
import { Monitoring } from "../constructs/monitoring";
import { gatewayGrafanaExposure, kubernetesMonitoringProps } from "../constructs/monitoring/from-config";
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
    /** Other namespaces the stack created (the models', training's), by name: default deny there too. @default [] */
    readonly namespaces?: readonly (readonly [string, NamespaceV1])[];
    /** The registry events service, where it is on: Prometheus scrapes it and alerts when it falls behind. */
    readonly registryEvents?: ServiceContract & { readonly metricsPath: string };
  },
): { readonly authProxy: AuthProxy; readonly monitoring: Monitoring } {
  // The in-cluster workloads whose projected tokens the proxy admits (the training pipeline's service account): the
  // file its authenticated-emails option reads, as the AWS stack writes it.
  const workloads = workloadIdentitiesOf(config);
  const workloadSubjects = workloads
    ? new ConfigMapV1(scope, "workload_identities", {
        metadata: { name: WORKLOAD_IDENTITIES_CONFIGMAP, namespace: config.mlflow.namespace },
        data: { [WORKLOAD_IDENTITIES_KEY]: workloadIdentitiesFileContent(workloads.subjects) },
        dependsOn: [deps.namespace],
      })
    : undefined;
  const authProxy = new AuthProxy(
    scope,
    "auth_proxy",
    authProxyProps(config, {
      trackingServer: deps.trackingServer,
      dependsOn: [deps.namespace, ...(workloadSubjects ? [workloadSubjects] : [])],
    }),
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
  const monitoring = new Monitoring(scope, "monitoring", {
    ...kubernetesMonitoringProps(config, {
      trackingServer: deps.trackingServer,
      authProxy: authProxy.contract,
      registryEvents: deps.registryEvents,
    }),
    // Grafana, when exposed, through the same Gateway as MLflow.
    grafana: gatewayGrafanaExposure(config),
  });
  const created: [string, NamespaceV1][] = [[config.mlflow.namespace, deps.namespace]];
  const monitoringNamespace = monitoring.node.tryFindChild("namespace") as NamespaceV1 | undefined;
  if (monitoringNamespace) created.push([config.monitoring.namespace, monitoringNamespace]);
  for (const [name, namespace] of deps.namespaces ?? []) created.push([name, namespace]);
  new NetworkPolicies(scope, "network_policies", {
    ...networkPoliciesProps(config, { namespaces: created.map(([name]) => name), cloud: deps.cloud }),
    dependsOn: created.map(([, resource]) => resource),
  });
  return { authProxy, monitoring };
}

/** The namespaces a stack's Training created (the workflows' and, in install mode, Argo's), for {@link gatewayFront}. */
export function trainingNamespaces(
  config: GcpEnvironmentConfig | AzureEnvironmentConfig,
  training: Training | undefined,
): [string, NamespaceV1][] {
  if (!training) return [];
  return [
    [config.training.namespace, training.namespace],
    ...(training.argoNamespace ? [[config.training.argo.namespace, training.argoNamespace] as [string, NamespaceV1]] : []),
  ];
}
