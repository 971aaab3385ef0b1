/**
 * Maps an environment's configuration (config.monitoring, config.auth, config.ingress, config.identity) onto the
 * Monitoring construct's props, so that the stack's monitoring section stays one call.
 */
import type { EnvironmentConfig } from "../../config";
import type { KubernetesEnvironment } from "../../config/kubernetes-half";
import type { GcpEnvironmentConfig } from "../../config/gcp";
import type { AzureEnvironmentConfig } from "../../config/azure";
import type { AuthProxyContract, ServiceContract, TrackingServerContract } from "../core/contracts";
import type { GrafanaExposureOptions, MonitoringProps } from ".";
import type { PropFieldMap } from "../core/prop-error";
import { defaultTags } from "../../config/tags";
import { installsRolloutsController } from "../../config/serving";
import { argoRolloutsMetricsService } from "../argo-rollouts";

export interface MonitoringDependencies {
  readonly trackingServer: TrackingServerContract;
  readonly authProxy: AuthProxyContract;
  /** The registry events service, when the stack deploys it. */
  readonly registryEvents?: ServiceContract & { readonly metricsPath: string };
  /** SNS topic of the backend store's CloudWatch alarms. */
  readonly alarmTopicArn?: string;
  /** The backend store's DB instance identifier: with `artifactBucketName`, turns on the CloudWatch dashboard (install mode). */
  readonly dbInstanceIdentifier?: string;
  /** Its read replica's identifier, if any. */
  readonly dbReplicaIdentifier?: string;
  /** The artifact bucket's name. */
  readonly artifactBucketName?: string;
}

/** The Monitoring props of an environment. */
export function monitoringProps(config: EnvironmentConfig, deps: MonitoringDependencies): MonitoringProps {
  // The backend store already subscribes config.notifications.emails to its alarm topic; add the
  // alert recipients it does not have, so that the RDS alarms reach the same people.
  const alarmEmails = (config.monitoring.email?.to ?? []).filter((address) => !config.notifications.emails.includes(address));
  return {
    ...kubernetesMonitoringProps(config, deps),
    grafana: grafanaExposure(config),
    alarmTopicArn: alarmEmails.length > 0 ? deps.alarmTopicArn : undefined,
    alarmEmails,
    cloudWatch: cloudWatch(config, deps),
  };
}

/**
 * The Monitoring props every cloud shares: Prometheus, the rules, Alertmanager's receivers and the
 * dashboards of the Kubernetes half (a GCP stack's monitoring is this, without CloudWatch, SNS or an exposed Grafana).
 */
export function kubernetesMonitoringProps(
  config: KubernetesEnvironment,
  deps: Pick<MonitoringDependencies, "trackingServer" | "authProxy" | "registryEvents">,
): MonitoringProps {
  const m = config.monitoring;
  const email = m.email
    ? {
        to: m.email.to,
        from: m.email.from,
        smarthost: m.email.smarthost,
        authUsername: m.email.authUsername,
        authPasswordSecretName: m.email.authPasswordSecretName,
      }
    : undefined;
  return {
    trackingServer: deps.trackingServer,
    authProxy: deps.authProxy,
    registryEvents: deps.registryEvents ? { service: deps.registryEvents, behindSeconds: config.events.behindSeconds } : undefined,
    mode: m.mode,
    namespace: m.namespace,
    retentionDays: m.retentionDays,
    storageGb: m.storageGb,
    thresholds: m.thresholds,
    slack: m.slack,
    discord: m.discord,
    email,
    alertsReachNobody: m.alertsReachNobody,
    runbookBaseUrl: m.runbookBaseUrl,
    modelServing:
      Object.keys(config.serving.models).length > 0
        ? {
            namespace: config.serving.namespace,
            models: Object.entries(config.serving.models).map(([name, sm]) => ({ name, psiThreshold: sm.drift.psiThreshold })),
          }
        : undefined,
    rolloutsController: installsRolloutsController(config)
      ? argoRolloutsMetricsService(config.serving.delivery.controllerNamespace)
      : undefined,
  };
}

/**
 * The CloudWatch data source and dashboard: only in install mode (they live in the Grafana this stack
 * installs) and only when the stack passes the database and bucket to look at.
 */
function cloudWatch(config: EnvironmentConfig, deps: MonitoringDependencies): MonitoringProps["cloudWatch"] {
  if (config.monitoring.mode !== "install" || !deps.dbInstanceIdentifier || !deps.artifactBucketName) return undefined;
  return {
    region: config.aws.region,
    dbInstanceIdentifier: deps.dbInstanceIdentifier,
    dbReplicaIdentifier: deps.dbReplicaIdentifier,
    bucketName: deps.artifactBucketName,
    identityMode: config.identity.mode,
    clusterName: config.cluster.name,
    accountId: config.aws.accountId,
    oidcProviderArn: config.cluster.oidcProviderArn,
    roleName: `${config.project}-${config.name}-grafana-cloudwatch`,
  };
}

function grafanaExposure(config: EnvironmentConfig): GrafanaExposureOptions | undefined {
  const m = config.monitoring;
  if (!m.grafanaHostname || !m.grafanaOidc) return undefined; // the schema requires grafanaOidc with a hostname
  return {
    hostname: m.grafanaHostname,
    kind: config.ingress.kind,
    certificateArn: config.ingress.certificateArn,
    scheme: config.ingress.scheme,
    sslPolicy: config.ingress.sslPolicy,
    gatewayRef: config.ingress.gatewayRef,
    loadBalancerTags: defaultTags(config),
    sso: grafanaSso(config, m.grafanaOidc),
  };
}

/**
 * Grafana through the environment's Gateway (GKE, AKS): an HTTPRoute for `monitoring.grafanaHostname` on
 * `ingress.gatewayRef`, with Grafana's own sign-in against the platform's issuer (its client secret from Kubernetes).
 */
export function gatewayGrafanaExposure(config: GcpEnvironmentConfig | AzureEnvironmentConfig): GrafanaExposureOptions | undefined {
  const m = config.monitoring;
  if (!m.grafanaHostname || !m.grafanaOidc) return undefined; // the schema requires grafanaOidc with a hostname
  return {
    hostname: m.grafanaHostname,
    kind: "gateway-api",
    gatewayRef: config.ingress.gatewayRef,
    sso: grafanaSso(config, m.grafanaOidc),
  };
}

/** Grafana's sign-in: the platform's issuer and client, the sign-in allow-lists, the admin groups. */
function grafanaSso(
  config: Pick<EnvironmentConfig, "auth" | "access" | "teams"> | GcpEnvironmentConfig | AzureEnvironmentConfig,
  oidc: NonNullable<EnvironmentConfig["monitoring"]["grafanaOidc"]>,
): GrafanaExposureOptions["sso"] {
  const secret = config.auth.clientSecret;
  const access = "access" in config ? config.access : undefined;
  const teams = "teams" in config ? config.teams : undefined;
  return {
    issuerUrl: config.auth.issuerUrl,
    authUrl: oidc.authUrl,
    tokenUrl: oidc.tokenUrl,
    userInfoUrl: oidc.userInfoUrl,
    clientId: config.auth.clientId,
    // A Kubernetes-sourced secret must also exist in the monitoring namespace, under the same name.
    clientSecret:
      secret.source === "secrets-manager"
        ? { secretsManagerArn: secret.secretArn }
        : { kubernetes: { name: secret.secretName, key: secret.key } },
    scopes: config.auth.scopes,
    groupsClaim: config.auth.groupsClaim,
    allowedGroups: config.auth.allowedGroups,
    allowedEmailDomains: config.auth.allowedEmailDomains,
    // With teams, MLflow's administrators administer Grafana too: one group decides both.
    adminGroups: [
      ...oidc.adminGroups,
      ...(access && (teams ?? []).length > 0 && !oidc.adminGroups.includes(access.platformAdminsGroup) ? [access.platformAdminsGroup] : []),
    ],
  };
}

/**
 * The configuration field behind each Monitoring prop {@link monitoringProps} sets (null: the stack's
 * wiring, derived names, defaults). `*` stands for the model of `modelServing.models[<model>]`.
 */
export const MONITORING_FIELDS: PropFieldMap = {
  mode: "monitoring.mode",
  namespace: "monitoring.namespace",
  retentionDays: "monitoring.retentionDays",
  storageGb: "monitoring.storageGb",
  chartVersion: null,
  thresholds: "monitoring.thresholds",
  slack: "monitoring.slack",
  discord: "monitoring.discord",
  email: "monitoring.email",
  alertsReachNobody: "monitoring.alertsReachNobody",
  grafana: "monitoring.grafanaHostname",
  "grafana.certificateArn": "ingress.certificateArn",
  "grafana.gatewayRef": "ingress.gatewayRef",
  "grafana.loadBalancerTags": "tags",
  "grafana.sso": "monitoring.grafanaOidc",
  "grafana.sso.allowedGroups": "auth.allowedGroups",
  "grafana.sso.issuerUrl": "auth.issuerUrl",
  "grafana.sso.clientSecret": "auth.clientSecret",
  cloudWatch: null,
  "cloudWatch.region": "aws.region",
  "cloudWatch.accountId": "aws.accountId",
  "cloudWatch.clusterName": "cluster.name",
  "cloudWatch.identityMode": "identity.mode",
  "cloudWatch.oidcProviderArn": "cluster.oidcProviderArn",
  "cloudWatch.roleName": "name",
  "registryEvents.behindSeconds": "events.behindSeconds",
  "modelServing.models.psiThreshold": "serving.models.*.drift.psiThreshold",
  runbookBaseUrl: "monitoring.runbookBaseUrl",
  // Grafana's IAM role (a WorkloadRole of Monitoring's own): named after the environment.
  roleName: "name",
  clusterName: "cluster.name",
  accountId: "aws.accountId",
  region: "aws.region",
  trackingServer: null,
  authProxy: null,
  registryEvents: null,
  rolloutsController: null,
  alarmTopicArn: null,
  alarmEmails: "monitoring.email.to",
  serviceAccountName: null,
  maxSessionDurationSeconds: null,
  inlinePolicies: null,
};
