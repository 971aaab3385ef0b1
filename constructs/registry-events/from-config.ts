/**
 * Maps an environment's configuration onto the RegistryEvents construct's props: the one place that knows
 * which configuration field (`events`, `mlflow`, `monitoring`) becomes which prop. The same on every cloud; what
 * differs is how a cloud-held channel secret is read (`copySecret`: AWS's by default).
 */
import type { ITerraformDependable } from "cdktf";
import type { KubernetesEnvironment } from "../../config/kubernetes-half";
import type { ServiceContract } from "../core/contracts";
import type { PropFieldMap } from "../core/prop-error";
import type { RegistryEventsProps, SecretValueReader } from ".";
import { awsSecretCopy } from "./copy-from-aws";
import {
  type CloudSecretSource,
  channelSecretSources,
  generatedSecretName,
  managedChannelSecretName,
  registryEventsCommand,
  registryEventsName,
  registryEventsPodLabels,
} from "./command";

/** The one mapping from an environment's configuration (`events`, `mlflow`, `monitoring`) to the props. */
export function registryEventsProps(
  config: KubernetesEnvironment,
  deps: {
    readonly trackingServer: Pick<ServiceContract, "namespace" | "port" | "podLabels">;
    readonly dependsOn?: ITerraformDependable[];
    /** How the stack's cloud reads a cloud-held secret (copy-from-gcp.ts, copy-from-azure.ts). @default AWS Secrets Manager */
    readonly copySecret?: (src: CloudSecretSource) => SecretValueReader;
    /** The cloud's metadata and credential endpoints (RegistryEventsProps.metadataCidrs). @default AWS's */
    readonly metadataCidrs?: readonly string[];
  },
): RegistryEventsProps {
  const e = config.events;
  const copySecret = deps.copySecret ?? awsSecretCopy;
  const copiedSecrets: Record<string, SecretValueReader> = {};
  for (const [channel, src] of Object.entries(channelSecretSources(config))) {
    if (src.source !== "kubernetes") copiedSecrets[channel] = copySecret(src);
  }
  const channelPorts = [...(e.slack || e.discord || e.github ? [443] : []), ...(e.email ? [e.email.smtpPort] : [])];
  return {
    namespace: config.mlflow.namespace,
    name: registryEventsName(config),
    command: registryEventsCommand(config),
    podLabels: registryEventsPodLabels(config),
    trackingServer: deps.trackingServer,
    generatedSecretName: generatedSecretName(config),
    copiedSecrets,
    managedSecretName: managedChannelSecretName(config),
    channelPorts,
    monitoringNamespace: config.monitoring.namespace,
    prometheusPodLabels: config.monitoring.prometheusPodLabels,
    resources: e.resources,
    labels: { "app.kubernetes.io/part-of": config.project },
    dependsOn: deps.dependsOn,
    ...(deps.metadataCidrs ? { metadataCidrs: deps.metadataCidrs } : {}),
  };
}

/** The configuration field behind each RegistryEvents prop {@link registryEventsProps} sets (null: derived or the stack's wiring). */
export const REGISTRY_EVENTS_FIELDS: PropFieldMap = {
  namespace: "mlflow.namespace",
  name: "project",
  command: "events",
  podLabels: null,
  trackingServer: null,
  generatedSecretName: null,
  copiedSecrets: "events",
  managedSecretName: null,
  channelPorts: "events.email.smtpPort",
  monitoringNamespace: "monitoring.namespace",
  prometheusPodLabels: "monitoring.prometheusPodLabels",
  resources: "events.resources",
  labels: "project",
  runAsUser: null,
  metadataCidrs: null,
};
