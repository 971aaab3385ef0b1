/**
 * Maps an environment's configuration onto the AuthProxy construct's props and the proxy command's
 * settings: the one place that knows which configuration field becomes which prop.
 */
import type { KubernetesEnvironment } from "../../config/kubernetes-half";
import type { AuthProxyProps } from ".";
import { authProxyPodLabels, type OAuth2ProxySettings, type WorkloadIdentities } from "./oauth2-proxy-command";
import type { PropFieldMap } from "../core/prop-error";

/** The AuthProxy props of an environment. */
export function authProxyProps(config: KubernetesEnvironment, deps: Pick<AuthProxyProps, "trackingServer" | "dependsOn">): AuthProxyProps {
  const a = config.auth;
  const { trustedProxyCidrs, ...settings } = oauth2ProxySettings(config);
  return {
    ...settings,
    clientSecret: a.clientSecret,
    loadBalancerCidrs: trustedProxyCidrs,
    loadBalancerDeregistrationDelaySeconds: config.ingress.deregistrationDelaySeconds,
    drainSeconds: a.drainSeconds,
    partOf: config.project,
    replicas: a.replicas,
    resources: a.resources,
    monitoringNamespace: config.monitoring.namespace,
    prometheusPodLabels: config.monitoring.prometheusPodLabels,
    ...deps,
  };
}

/** The proxy command's settings of an environment (what `oauth2ProxyCommand` needs besides the upstream and secrets). */
export function oauth2ProxySettings(config: KubernetesEnvironment): OAuth2ProxySettings {
  const a = config.auth;
  return {
    proxyVersion: a.proxyVersion,
    issuerUrl: a.issuerUrl,
    clientId: a.clientId,
    scopes: a.scopes,
    groupsClaim: a.groupsClaim,
    allowedEmailDomains: a.allowedEmailDomains,
    allowedGroups: a.allowedGroups,
    allowAnyEmailDomain: a.allowAnyEmailDomain,
    extraJwtIssuers: a.extraJwtIssuers,
    cookieExpireHours: a.cookieExpireHours,
    cookieRefreshMinutes: a.cookieRefreshMinutes,
    publicHostname: config.hostname,
    loadBalancerIdleTimeoutSeconds: config.ingress.idleTimeoutSeconds,
    trustedProxyCidrs: config.ingress.vpcCidrs,
    workloadIdentities: workloadIdentitiesOf(config),
  };
}

/** The service-account subject of the training pipeline's pods. */
export function trainingSubject(config: KubernetesEnvironment): string {
  return `system:serviceaccount:${config.training.namespace}:training-pipeline`;
}

/** The extra issuers and allowed subjects of an environment's in-cluster workloads, or undefined when there are none. */
export function workloadIdentitiesOf(config: KubernetesEnvironment): WorkloadIdentities | undefined {
  const t = config.training;
  if (!t?.enabled || !t.identity) return undefined;
  return { issuers: [{ issuer: t.identity.issuerUrl, audience: t.identity.audience }], subjects: [trainingSubject(config)] };
}

/** Labels of an environment's proxy pods (what the tracking server's NetworkPolicy admits). */
export function authProxyPodLabelsOf(config: KubernetesEnvironment): Record<string, string> {
  return authProxyPodLabels(config.project);
}

/** The configuration field behind each AuthProxy prop {@link authProxyProps} sets (null: the stack's wiring or a default). */
export const AUTH_PROXY_FIELDS: PropFieldMap = {
  proxyVersion: "auth.proxyVersion",
  issuerUrl: "auth.issuerUrl",
  clientId: "auth.clientId",
  scopes: "auth.scopes",
  groupsClaim: "auth.groupsClaim",
  allowedEmailDomains: "auth.allowedEmailDomains",
  allowedGroups: "auth.allowedGroups",
  allowAnyEmailDomain: "auth.allowAnyEmailDomain",
  extraJwtIssuers: "auth.extraJwtIssuers",
  cookieExpireHours: "auth.cookieExpireHours",
  cookieRefreshMinutes: "auth.cookieRefreshMinutes",
  publicHostname: "hostname",
  loadBalancerIdleTimeoutSeconds: "ingress.idleTimeoutSeconds",
  workloadIdentities: "training.identity",
  clientSecret: "auth.clientSecret",
  loadBalancerCidrs: "ingress.vpcCidrs",
  loadBalancerDeregistrationDelaySeconds: "ingress.deregistrationDelaySeconds",
  drainSeconds: "auth.drainSeconds",
  partOf: "project",
  replicas: "auth.replicas",
  resources: "auth.resources",
  monitoringNamespace: "monitoring.namespace",
  prometheusPodLabels: "monitoring.prometheusPodLabels",
  targetCpuUtilizationPercent: null,
  trackingServer: null,
};

/** The configuration field behind each setting of the proxy's command ({@link oauth2ProxySettings}), which names its errors "oauth2ProxyCommand". */
export const OAUTH2_PROXY_COMMAND_FIELDS: PropFieldMap = AUTH_PROXY_FIELDS;
