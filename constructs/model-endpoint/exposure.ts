/**
 * How applications reach the models of an environment (serving.exposure), from configuration: the one
 * place where the exposure settings meet the ModelApi and ModelGateway constructs.
 *
 * - `apiGateway`: one HTTP API for the stack (./api-gateway.ts); call {@link modelApiFromConfig} before
 *   the endpoints, whose charts bind their Services to its target groups.
 * - `ingress`: one OAuth2 Proxy + ALB Ingress per released model (./gateway.ts); {@link modelGatewayFromConfig}
 *   after the endpoint.
 * - `none`: nothing; the models are reachable in the cluster from the configured gateway peers only.
 */
import type { Construct } from "constructs";
import type { EnvironmentConfig } from "../../config";
import { oauth2ProxyImage } from "../commands/oauth2-proxy";
import type { ModelEndpoint } from ".";
import { ModelApi } from "./api-gateway";
import { callerHeaderFor } from "./from-config";
import { ModelGateway, modelGatewayPodLabels } from "./gateway";
import { keyAdministratorArns } from "../../config/ci";
import type { PropFieldMap } from "../core/prop-error";

export function modelApiFromConfig(
  scope: Construct, config: EnvironmentConfig, namePrefix: string,
  inputs: { vpcId: string; alarmTopicArn: string; modelNames: string[] },
): ModelApi | undefined {
  const s = config.serving;
  if (s.exposure !== "apiGateway" || !s.apiGateway || inputs.modelNames.length === 0) return undefined;
  const g = s.apiGateway;
  return new ModelApi(scope, "model_api", {
    namePrefix,
    region: config.aws.region,
    accountId: config.aws.accountId,
    keyAdministratorArns: keyAdministratorArns(config),
    vpcId: inputs.vpcId,
    subnetIds: g.loadBalancerSubnetIds,
    models: inputs.modelNames.map((modelName) => ({ modelName, serviceName: `${namePrefix}-${modelName}` })),
    issuerUrl: config.auth.issuerUrl,
    audiences: [config.auth.clientId, ...config.auth.extraJwtIssuers.filter((e) => e.issuer === config.auth.issuerUrl).map((e) => e.audience)],
    callerHeader: callerHeaderFor(config),
    groupsClaim: config.auth.groupsClaim,
    domain: g.domain,
    certificateArn: g.certificateArn,
    hostedZoneId: g.route53ZoneId,
    throttle: { ratePerSecond: g.throttleRatePerSecond, burst: g.throttleBurst },
    routeThrottle: { ratePerSecond: g.routeThrottleRatePerSecond ?? g.throttleRatePerSecond, burst: g.routeThrottleBurst ?? g.throttleBurst },
    logRetentionDays: g.logRetentionDays,
    alarm5xxPerMinute: g.alarm5xxPerMinute,
    alarmP99LatencyMs: g.alarmP99LatencyMs,
    alarmTopicArn: inputs.alarmTopicArn,
    preventDestroy: config.production,
  });
}

export function modelGatewayFromConfig(scope: Construct, config: EnvironmentConfig, namePrefix: string, modelName: string, endpoint: ModelEndpoint): ModelGateway | undefined {
  const s = config.serving;
  if (s.exposure !== "ingress" || !s.ingress || !endpoint.contract) return undefined;
  const m = s.models[modelName];
  return new ModelGateway(scope, `model_gateway_${modelName.replace(/-/g, "_")}`, {
    name: `${namePrefix}-${modelName}-gateway`.slice(0, 63),
    model: endpoint.contract,
    podLabels: modelGatewayPodLabels(`${namePrefix}-${modelName}`),
    image: oauth2ProxyImage(config.auth.proxyVersion),
    issuerUrl: config.auth.issuerUrl,
    clientId: config.auth.clientId,
    extraJwtIssuers: config.auth.extraJwtIssuers,
    allowedEmailDomains: config.auth.allowedEmailDomains,
    allowedGroups: config.auth.allowedGroups,
    allowAnyEmailDomain: config.auth.allowAnyEmailDomain,
    groupsClaim: config.auth.groupsClaim,
    upstreamTimeoutSeconds: m.requestTimeoutSeconds + 5,
    vpcCidrs: config.ingress.vpcCidrs,
    hostname: `${modelName}.${s.ingress.domain}`,
    certificateArn: s.ingress.certificateArn ?? config.ingress.certificateArn,
    scheme: s.ingress.scheme,
    sslPolicy: config.ingress.sslPolicy,
    ingressGroup: `${namePrefix}-models`,
    replicas: config.production ? 2 : 1,
    monitoringNamespace: config.monitoring.namespace,
    prometheusPodLabels: config.monitoring.prometheusPodLabels,
    dependsOn: [endpoint.service!],
  });
}

/** The configuration field behind each ModelApi prop {@link modelApiFromConfig} sets (null: derived or the stack's wiring). */
export const MODEL_API_FIELDS: PropFieldMap = {
  namePrefix: "name",
  region: "aws.region",
  accountId: "aws.accountId",
  keyAdministratorArns: "ci.deployRoleName",
  vpcId: null,
  subnetIds: "serving.apiGateway.loadBalancerSubnetIds",
  models: "serving.models",
  issuerUrl: "auth.issuerUrl",
  audiences: "auth.clientId",
  callerHeader: "serving.callerHeader",
  groupsClaim: "auth.groupsClaim",
  domain: "serving.apiGateway.domain",
  certificateArn: "serving.apiGateway.certificateArn",
  hostedZoneId: "serving.apiGateway.route53ZoneId",
  "throttle.ratePerSecond": "serving.apiGateway.throttleRatePerSecond",
  "throttle.burst": "serving.apiGateway.throttleBurst",
  routeThrottle: "serving.apiGateway.routeThrottleRatePerSecond",
  "routeThrottle.burst": "serving.apiGateway.routeThrottleBurst",
  timeoutMs: null,
  logRetentionDays: "serving.apiGateway.logRetentionDays",
  alarm5xxPerMinute: "serving.apiGateway.alarm5xxPerMinute",
  alarmP99LatencyMs: "serving.apiGateway.alarmP99LatencyMs",
  alarmTopicArn: null,
  preventDestroy: "production",
};

/** The configuration field behind each ModelGateway prop {@link modelGatewayFromConfig} sets for `modelName`. */
export function modelGatewayFields(modelName: string): PropFieldMap {
  return {
    name: `serving.models.${modelName}`,
    model: null,
    podLabels: null,
    image: "auth.proxyVersion",
    issuerUrl: "auth.issuerUrl",
    clientId: "auth.clientId",
    extraJwtIssuers: "auth.extraJwtIssuers",
    allowedEmailDomains: "auth.allowedEmailDomains",
    allowedGroups: "auth.allowedGroups",
    allowAnyEmailDomain: "auth.allowAnyEmailDomain",
    groupsClaim: "auth.groupsClaim",
    upstreamTimeoutSeconds: `serving.models.${modelName}.requestTimeoutSeconds`,
    vpcCidrs: "ingress.vpcCidrs",
    hostname: "serving.ingress.domain",
    certificateArn: "serving.ingress.certificateArn",
    scheme: "serving.ingress.scheme",
    sslPolicy: "ingress.sslPolicy",
    ingressGroup: null,
    replicas: "production",
    monitoringNamespace: "monitoring.namespace",
    prometheusPodLabels: "monitoring.prometheusPodLabels",
  };
}
