/**
 * Maps an environment's configuration onto the TrackingServer construct's props: the one place that
 * knows which configuration field becomes which prop (as `constructs/monitoring/from-config.ts` does for
 * Monitoring). The construct itself never sees the configuration.
 */
import type { EnvironmentConfig } from "../../config";
import type { ArtifactStoreContract, BackendStoreContract, TrackingIdentityContract } from "../core/contracts";
import type { TrackingServerProps } from ".";
import type { TrackingIdentityProps } from "./identity";
import { trackingServerAddress } from "./mlflow-command";
import { registryEventsPodLabels, registryEventsSecretRefs, registryEventsWebhookUrl } from "../registry-events/command";
import type { PropFieldMap } from "../core/prop-error";
import { workloadIdentitiesOf } from "../auth-proxy/from-config";
import { accessPolicyOf } from "../access/from-config";

/** What the stack passes besides the configuration: the contracts of the constructs it depends on. */
export type TrackingServerDependencies = Pick<
  TrackingServerProps,
  "artifactStore" | "backendStore" | "identity" | "authProxyPodLabels" | "apiClientPodLabels" | "dependsOn"
> & {
  readonly artifactStore: ArtifactStoreContract;
  readonly backendStore: BackendStoreContract;
  readonly identity: TrackingIdentityContract;
};

/** `app.kubernetes.io/instance` of an environment's tracking server: `<project>-<env>`. */
export function trackingInstance(config: EnvironmentConfig): string {
  return `${config.project}-${config.name}`;
}

export { trackingServerAddress };

/** The TrackingServer props of an environment. */
export function trackingServerProps(config: EnvironmentConfig, deps: TrackingServerDependencies): TrackingServerProps {
  const m = config.mlflow;
  return {
    instance: trackingInstance(config),
    partOf: config.project,
    namespace: m.namespace,
    version: m.version,
    image: m.image,
    port: m.port,
    workers: m.workers,
    replicas: m.replicas,
    targetCpuUtilizationPercent: m.targetCpuUtilizationPercent,
    resources: m.resources,
    publicHostname: config.hostname,
    extraAllowedHosts: m.extraAllowedHosts,
    allowedEmailDomains: config.auth.allowedEmailDomains,
    allowAnyEmailDomain: config.auth.allowAnyEmailDomain,
    // The in-cluster workloads the proxy admits (training pipelines): the guard admits the same subjects.
    workloadIdentities: workloadIdentitiesOf(config)?.subjects ?? [],
    podCidrs: config.ingress.vpcCidrs,
    clientIdleTimeoutSeconds: config.ingress.idleTimeoutSeconds,
    extraUvicornOpts: m.uvicornOpts,
    gc: m.gc,
    monitoringNamespace: config.monitoring.namespace,
    prometheusPodLabels: config.monitoring.prometheusPodLabels,
    strictZoneSpread: config.production,
    ...deps,
    // The registry events service (where it is on) reads the registry and declares its webhook: it is
    // admitted like the other API clients, and MLflow gets the webhook settings it needs.
    apiClientPodLabels: [...(deps.apiClientPodLabels ?? []), ...(config.events.enabled ? [registryEventsPodLabels(config)] : [])],
    webhookEncryptionKey: config.events.enabled ? registryEventsSecretRefs(config).encryptionKey : undefined,
    // The guard lets webhooks post to this receiver only (none when the service is off).
    webhookUrls: config.events.enabled ? [registryEventsWebhookUrl(config)] : [],
    // Teams: MLflow's auth app with workspaces, and the policy's sync Job (constructs/access).
    access: accessPolicyOf(config),
  };
}

/** The TrackingIdentity props of an environment; `namePrefix` is the stack's name (the IAM role's prefix). */
export function trackingIdentityProps(
  config: EnvironmentConfig,
  namePrefix: string,
  deps: Pick<TrackingIdentityProps, "artifacts" | "artifactPrefix">,
): TrackingIdentityProps {
  return {
    mode: config.identity.mode,
    clusterName: config.cluster.name,
    namespace: config.mlflow.namespace,
    roleName: `${namePrefix}-tracking-server`,
    accountId: config.aws.accountId,
    region: config.aws.region,
    oidcProviderArn: config.cluster.oidcProviderArn,
    ...deps,
  };
}

/**
 * The configuration field behind each TrackingServer prop {@link trackingServerProps} sets (null: the
 * stack's own wiring or the construct's default, not configuration). Errors the construct raises are
 * reported against these fields (stacks/prop-errors.ts).
 */
export const TRACKING_SERVER_FIELDS: PropFieldMap = {
  instance: "name",
  partOf: "project",
  name: null,
  namespace: "mlflow.namespace",
  version: "mlflow.version",
  image: "mlflow.image",
  port: "mlflow.port",
  workers: "mlflow.workers",
  replicas: "mlflow.replicas",
  targetCpuUtilizationPercent: "mlflow.targetCpuUtilizationPercent",
  resources: "mlflow.resources",
  publicHostname: "hostname",
  extraAllowedHosts: "mlflow.extraAllowedHosts",
  allowedEmailDomains: "auth.allowedEmailDomains",
  allowAnyEmailDomain: "auth.allowAnyEmailDomain",
  workloadIdentities: "training.identity",
  podCidrs: "ingress.vpcCidrs",
  clientIdleTimeoutSeconds: "ingress.idleTimeoutSeconds",
  extraUvicornOpts: "mlflow.uvicornOpts",
  gc: "mlflow.gc",
  monitoringNamespace: "monitoring.namespace",
  prometheusPodLabels: "monitoring.prometheusPodLabels",
  strictZoneSpread: "production",
  artifactStore: null,
  backendStore: null,
  identity: null,
  authProxyPodLabels: null,
  apiClientPodLabels: null,
  webhookEncryptionKey: null,
  webhookUrls: null,
  access: "teams",
  networkPolicy: null,
  runAsUser: null,
  tmpSizeLimit: null,
  migrationTimeoutMinutes: null,
  gcDeadlineSeconds: null,
};

/** TrackingIdentity ("tracking_identity"), and the WorkloadRole it is made of. */
export const TRACKING_IDENTITY_FIELDS: PropFieldMap = {
  mode: "identity.mode",
  clusterName: "cluster.name",
  namespace: "mlflow.namespace",
  roleName: "name",
  accountId: "aws.accountId",
  region: "aws.region",
  oidcProviderArn: "cluster.oidcProviderArn",
  artifacts: null,
  artifactPrefix: "artifacts.prefix",
  serviceAccountName: null,
  maxSessionDurationSeconds: null,
  inlinePolicies: null,
};
