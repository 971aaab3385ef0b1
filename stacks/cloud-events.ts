import type { Construct } from "constructs";
import type { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import type { GcpEnvironmentConfig } from "../config/gcp";
import type { AzureEnvironmentConfig } from "../config/azure";
import { RegistryEvents, type SecretValueReader } from "../constructs/registry-events";
import { registryEventsProps } from "../constructs/registry-events/from-config";
import type { CloudSecretSource } from "../constructs/registry-events/command";
import { trackingServerPodLabels } from "../constructs/tracking-server";
import { trackingInstance } from "../constructs/tracking-server/from-config";
import { GKE_METADATA_SERVER } from "../constructs/network-policies/from-config";

/** The GKE metadata server's two addresses (Workload Identity's credentials). */
export const GKE_METADATA_CIDRS: readonly string[] = GKE_METADATA_SERVER.map((m) => m.peer.cidr);
/**
 * Azure's instance metadata service (which hands out the node's managed identity tokens, the kubelet's among them)
 * and the WireServer (the VM agent's configuration, extension settings included).
 */
export const AKS_METADATA_CIDRS: readonly string[] = ["169.254.169.254/32", "168.63.129.16/32"];

/**
 * The registry events service of a GCP or an Azure stack, when `events.enabled`: the same construct and mapping as an
 * AWS stack's, with the cloud's way of reading a channel secret (Secret Manager, Key Vault) and its metadata
 * endpoints. Created before the tracking server, which reads the webhook-secret encryption key it generates.
 */
export function cloudRegistryEvents(
  scope: Construct,
  config: GcpEnvironmentConfig | AzureEnvironmentConfig,
  deps: {
    readonly namespace: NamespaceV1;
    readonly copySecret: (src: CloudSecretSource) => SecretValueReader;
    readonly metadataCidrs: readonly string[];
  },
): RegistryEvents | undefined {
  if (!config.events.enabled) return undefined;
  return new RegistryEvents(
    scope,
    "registry_events",
    registryEventsProps(config, {
      trackingServer: {
        namespace: config.mlflow.namespace,
        port: config.mlflow.port,
        podLabels: trackingServerPodLabels(trackingInstance(config)),
      },
      dependsOn: [deps.namespace],
      copySecret: deps.copySecret,
      metadataCidrs: deps.metadataCidrs,
    }),
  );
}
