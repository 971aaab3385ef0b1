/**
 * Maps an environment's configuration (config.serving, config.monitoring) onto one ModelEndpoint's props
 * per served model: the one place where configuration meets the construct.
 */
import type { EnvironmentConfig } from "../../config";
import type { ModelEndpointProps } from ".";

/** The props of every ModelEndpoint of an environment, by model name (without `dependsOn`). */
export function modelEndpointProps(config: EnvironmentConfig, namePrefix: string): Record<string, ModelEndpointProps> {
  const s = config.serving;
  const out: Record<string, ModelEndpointProps> = {};
  for (const [modelName, m] of Object.entries(s.models)) {
    out[modelName] = {
      modelName,
      namePrefix,
      namespace: s.namespace,
      release: s.releases[modelName],
      replicas: m.replicas,
      resources: m.resources,
      limits: {
        maxConcurrency: m.maxConcurrency,
        maxBodyBytes: m.maxBodyBytes,
        callerRate: m.callerRate,
        callerBurst: m.callerBurst,
        requestTimeoutSeconds: m.requestTimeoutSeconds,
        classNames: m.classNames,
      },
      callerHeader: s.callerHeader,
      gatewayPodLabels: s.gatewayPodLabels,
      gatewayNamespace: s.gatewayNamespace ?? config.mlflow.namespace,
      gatewayCidrs: s.gatewayCidrs,
      monitoringNamespace: config.monitoring.namespace,
      prometheusPodLabels: config.monitoring.prometheusPodLabels,
      keepImages: s.keepImages,
      strictZoneSpread: config.production,
      preventDestroy: config.production,
    };
  }
  return out;
}
