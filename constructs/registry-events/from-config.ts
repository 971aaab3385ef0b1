/**
 * Maps an environment's configuration onto the RegistryEvents construct's props: the one place that knows
 * which configuration field (`events`, `mlflow`, `monitoring`) becomes which prop.
 */
import type { ITerraformDependable } from "cdktf";
import type { EnvironmentConfig } from "../../config";
import type { ServiceContract } from "../core/contracts";
import type { PropFieldMap } from "../core/prop-error";
import type { RegistryEventsProps } from ".";
import {
  channelSecretSources,
  generatedSecretName,
  managedChannelSecretName,
  registryEventsCommand,
  registryEventsName,
  registryEventsPodLabels,
} from "./command";

/** The one mapping from an environment's configuration (`events`, `mlflow`, `monitoring`) to the props. */
export function registryEventsProps(
  config: EnvironmentConfig,
  deps: { readonly trackingServer: Pick<ServiceContract, "namespace" | "port" | "podLabels">; readonly dependsOn?: ITerraformDependable[] },
): RegistryEventsProps {
  const e = config.events;
  const secretsManagerValues: Record<string, string> = {};
  for (const [channel, src] of Object.entries(channelSecretSources(config))) {
    if (src.source === "secrets-manager") secretsManagerValues[channel] = src.secretArn;
  }
  const channelPorts = [...(e.slack || e.discord || e.github ? [443] : []), ...(e.email ? [e.email.smtpPort] : [])];
  return {
    namespace: config.mlflow.namespace,
    name: registryEventsName(config),
    command: registryEventsCommand(config),
    podLabels: registryEventsPodLabels(config),
    trackingServer: deps.trackingServer,
    generatedSecretName: generatedSecretName(config),
    secretsManagerValues,
    managedSecretName: managedChannelSecretName(config),
    channelPorts,
    monitoringNamespace: config.monitoring.namespace,
    prometheusPodLabels: config.monitoring.prometheusPodLabels,
    resources: e.resources,
    labels: { "app.kubernetes.io/part-of": config.project },
    dependsOn: deps.dependsOn,
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
  secretsManagerValues: "events",
  managedSecretName: null,
  channelPorts: "events.email.smtpPort",
  monitoringNamespace: "monitoring.namespace",
  prometheusPodLabels: "monitoring.prometheusPodLabels",
  resources: "events.resources",
  labels: "project",
  runAsUser: null,
};
