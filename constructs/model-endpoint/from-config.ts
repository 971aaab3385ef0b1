/**
 * Maps an environment's configuration (config.serving, config.monitoring) onto one ModelEndpoint's props
 * per served model: the one place where configuration meets the construct.
 */
import type { Construct } from "constructs";
import type { EnvironmentConfig } from "../../config";
import type { GcpEnvironmentConfig } from "../../config/gcp";
import type { AzureEnvironmentConfig } from "../../config/azure";
import { INFERENCE_LOG_PREFIX } from "../../config/inference";
import type { ITerraformDependable } from "cdktf";
import type { PodIdentityContract, S3ArtifactStoreContract } from "../core/contracts";
import type { CloudFlows } from "../network-policies/from-config";
import { oauth2ProxyImage } from "../auth-proxy/oauth2-proxy-command";
import type { ModelEndpoint, ModelEndpointProps } from ".";
import type { InferenceLogSettings } from "./inference-log";
import { ModelApi } from "./api-gateway";
import { MODEL_GATEWAY_CALLER_HEADER } from "./gateway-command";
import { ModelGateway, modelGatewayPodLabels, type ModelGatewayProps } from "./gateway";
import type { PropFieldMap } from "../core/prop-error";
import { keyAdministratorArns } from "../../config/ci";

/** What the cloud-neutral props of a ModelEndpoint read of an environment: an AWS, GCP or Azure one. */
export type ServingEnvironment = Pick<EnvironmentConfig, "serving" | "auth" | "monitoring" | "production" | "mlflow">;

/** The header the model server keys callers on: what the environment's gateway overwrites from the token. */
export function callerHeaderFor(config: Pick<EnvironmentConfig, "serving">): string {
  return config.serving.callerHeader ?? (config.serving.exposure === "ingress" ? MODEL_GATEWAY_CALLER_HEADER : "X-Caller-Id");
}

/** The props of every ModelEndpoint of an AWS environment, by model name (without `dependsOn`). */
export function modelEndpointProps(
  config: EnvironmentConfig,
  namePrefix: string,
  artifactStore?: S3ArtifactStoreContract,
): Record<string, ModelEndpointProps> {
  const s = config.serving;
  const out: Record<string, ModelEndpointProps> = {};
  for (const [modelName, core] of Object.entries(modelServerProps(config, namePrefix))) {
    const m = s.models[modelName];
    out[modelName] = {
      ...core,
      keyAdministratorArns: keyAdministratorArns(config),
      keepImages: s.keepImages,
      expireTagPrefixes: s.expireTagPrefixes,
      // Input/output logging: into the artifact bucket, beside MLflow's prefix.
      inferenceLog:
        m.inferenceLog.enabled && artifactStore
          ? {
              bucketName: artifactStore.bucketName,
              bucketArn: artifactStore.bucketArn,
              kmsKeyArn: artifactStore.kmsKeyArn,
              prefix: INFERENCE_LOG_PREFIX,
              ...inferenceLogSettings(config, modelName),
              roleName: `${namePrefix}-model-${modelName}`.slice(0, 64),
              clusterName: config.cluster.name,
              accountId: config.aws.accountId,
              region: config.aws.region,
              identityMode: config.identity.mode,
              oidcProviderArn: config.cluster.oidcProviderArn,
            }
          : undefined,
    };
  }
  return out;
}

/** How a served model logs (serving.models.<m>.inferenceLog), whatever the store. */
export function inferenceLogSettings(config: Pick<EnvironmentConfig, "serving">, modelName: string): InferenceLogSettings {
  const l = config.serving.models[modelName].inferenceLog;
  return {
    sampling: l.sampling,
    contextFields: l.contextFields,
    rules: l.rules,
    batchRecords: l.batchRecords,
    flushSeconds: l.flushSeconds,
  };
}

/**
 * The cloud-neutral props of every ModelEndpoint of an environment of any cloud, by model name: the server, its
 * limits, who may call it, its delivery. Without the image repository and the inference log, which are the
 * cloud's (an AWS stack's are {@link modelEndpointProps}).
 */
export function modelServerProps(config: ServingEnvironment, namePrefix: string): Record<string, ModelEndpointProps> {
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
        bodyTimeoutSeconds: m.bodyTimeoutSeconds,
        maxUploadsPerCaller: m.maxUploadsPerCaller,
        classNames: m.classNames,
      },
      callerHeader: callerHeaderFor(config),
      // Behind a platform gateway the server checks the verified identity itself, with the sign-in
      // allow-lists: oauth2-proxy skips its domain check for a token without an e-mail, and API
      // Gateway's JWT authorizer applies no allow-list at all.
      identity:
        s.exposure === "none"
          ? undefined
          : {
              allowedEmailDomains: config.auth.allowedEmailDomains,
              allowedGroups: config.auth.allowedGroups,
              allowAnyEmailDomain: config.auth.allowAnyEmailDomain,
            },
      smokeTest: m.smokeTest,
      delivery: {
        strategy: s.delivery.strategy,
        autoPromotionEnabled: s.delivery.autoPromotionEnabled,
        canaryWeights: s.delivery.canaryWeights,
        pauseSeconds: s.delivery.pauseSeconds,
        analysis: {
          maxErrorRatio: s.delivery.maxErrorRatio,
          maxP99Seconds: s.delivery.maxP99Seconds,
          window: s.delivery.analysisWindow,
          intervalSeconds: s.delivery.analysisIntervalSeconds,
          count: s.delivery.analysisCount,
        },
        // The Prometheus operator's own Service in front of every Prometheus it runs.
        prometheusUrl: s.delivery.prometheusUrl ?? `http://prometheus-operated.${config.monitoring.namespace}.svc:9090`,
      },
      // With the ingress exposure the model's own gateway pods call it; else the configured peers.
      gatewayPodLabels: s.exposure === "ingress" ? modelGatewayPodLabels(`${namePrefix}-${modelName}`) : s.gatewayPodLabels,
      gatewayNamespace: s.exposure === "ingress" ? s.namespace : (s.gatewayNamespace ?? config.mlflow.namespace),
      gatewayCidrs: s.gatewayCidrs,
      monitoringNamespace: config.monitoring.namespace,
      prometheusPodLabels: config.monitoring.prometheusPodLabels,
      strictZoneSpread: config.production,
      preventDestroy: config.production,
      inputFields: m.inputFields,
    };
  }
  return out;
}

/**
 * How applications reach the models of an environment (serving.exposure):
 *
 * - `apiGateway`: one HTTP API for the stack (./api-gateway.ts); call {@link modelApiFromConfig} before
 *   the endpoints, whose charts bind their Services to its target groups.
 * - `ingress`: one OAuth2 Proxy + ALB Ingress per released model (./gateway.ts); {@link modelGatewayFromConfig}
 *   after the endpoint.
 * - `none`: nothing; the models are reachable in the cluster from the configured gateway peers only.
 */
export function modelApiFromConfig(
  scope: Construct,
  config: EnvironmentConfig,
  namePrefix: string,
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
    audiences: [
      config.auth.clientId,
      ...config.auth.extraJwtIssuers.filter((e) => e.issuer === config.auth.issuerUrl).map((e) => e.audience),
    ],
    callerHeader: callerHeaderFor(config),
    groupsClaim: config.auth.groupsClaim,
    domain: g.domain,
    certificateArn: g.certificateArn,
    hostedZoneId: g.route53ZoneId,
    throttle: { ratePerSecond: g.throttleRatePerSecond, burst: g.throttleBurst },
    routeThrottle: {
      ratePerSecond: g.routeThrottleRatePerSecond ?? g.throttleRatePerSecond,
      burst: g.routeThrottleBurst ?? g.throttleBurst,
    },
    logRetentionDays: g.logRetentionDays,
    alarm5xxPerMinute: g.alarm5xxPerMinute,
    alarmP99LatencyMs: g.alarmP99LatencyMs,
    alarmTopicArn: inputs.alarmTopicArn,
    preventDestroy: config.production,
  });
}

export function modelGatewayFromConfig(
  scope: Construct,
  config: EnvironmentConfig,
  namePrefix: string,
  modelName: string,
  endpoint: ModelEndpoint,
): ModelGateway | undefined {
  const common = modelGatewayCommonProps(config, namePrefix, modelName, endpoint);
  if (!common || !config.serving.ingress) return undefined;
  return new ModelGateway(scope, `model_gateway_${modelName.replace(/-/g, "_")}`, {
    ...common,
    certificateArn: config.serving.ingress.certificateArn ?? config.ingress.certificateArn,
    scheme: config.serving.ingress.scheme,
    sslPolicy: config.ingress.sslPolicy,
    ingressGroup: `${namePrefix}-models`,
  });
}

/** A model gateway's props on every cloud: the proxy, who may call, the model behind it; undefined unless exposed. */
function modelGatewayCommonProps(
  config: Pick<EnvironmentConfig, "serving" | "auth" | "production" | "monitoring"> & {
    readonly ingress: Pick<EnvironmentConfig["ingress"], "vpcCidrs">;
  },
  namePrefix: string,
  modelName: string,
  endpoint: ModelEndpoint,
): Omit<ModelGatewayProps, "certificateArn" | "scheme" | "sslPolicy" | "ingressGroup" | "gatewayRef" | "certificateDomains"> | undefined {
  const s = config.serving;
  if (s.exposure !== "ingress" || !s.ingress || !endpoint.contract) return undefined;
  const m = s.models[modelName];
  return {
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
    replicas: config.production ? 2 : 1,
    monitoringNamespace: config.monitoring.namespace,
    prometheusPodLabels: config.monitoring.prometheusPodLabels,
    dependsOn: [endpoint.service!],
  };
}

/**
 * The configuration field behind each ModelEndpoint prop {@link modelEndpointProps} sets for `modelName`
 * (null: derived names, the stack's wiring, defaults).
 */
export function modelEndpointFields(modelName: string): PropFieldMap {
  const m = `serving.models.${modelName}`;
  return {
    modelName: `serving.models`,
    namePrefix: "name",
    keyAdministratorArns: "ci.deployRoleName",
    namespace: "serving.namespace",
    release: `serving.releases.${modelName}`,
    replicas: `${m}.replicas`,
    resources: `${m}.resources`,
    "limits.maxConcurrency": `${m}.maxConcurrency`,
    "limits.maxBodyBytes": `${m}.maxBodyBytes`,
    "limits.callerRate": `${m}.callerRate`,
    "limits.callerBurst": `${m}.callerBurst`,
    "limits.requestTimeoutSeconds": `${m}.requestTimeoutSeconds`,
    "limits.bodyTimeoutSeconds": `${m}.bodyTimeoutSeconds`,
    "limits.maxUploadsPerCaller": `${m}.maxUploadsPerCaller`,
    "limits.classNames": `${m}.classNames`,
    limits: m,
    callerHeader: "serving.callerHeader",
    "identity.allowedEmailDomains": "auth.allowedEmailDomains",
    "identity.allowedGroups": "auth.allowedGroups",
    "identity.allowAnyEmailDomain": "auth.allowAnyEmailDomain",
    smokeTest: `${m}.smokeTest`,
    "delivery.strategy": "serving.delivery.strategy",
    "delivery.autoPromotionEnabled": "serving.delivery.autoPromotionEnabled",
    "delivery.canaryWeights": "serving.delivery.canaryWeights",
    "delivery.pauseSeconds": "serving.delivery.pauseSeconds",
    "delivery.analysis.maxErrorRatio": "serving.delivery.maxErrorRatio",
    "delivery.analysis.maxP99Seconds": "serving.delivery.maxP99Seconds",
    "delivery.analysis.window": "serving.delivery.analysisWindow",
    "delivery.analysis.intervalSeconds": "serving.delivery.analysisIntervalSeconds",
    "delivery.analysis.count": "serving.delivery.analysisCount",
    "delivery.prometheusUrl": "serving.delivery.prometheusUrl",
    gatewayPodLabels: "serving.gatewayPodLabels",
    gatewayNamespace: "serving.gatewayNamespace",
    gatewayCidrs: "serving.gatewayCidrs",
    monitoringNamespace: "monitoring.namespace",
    prometheusPodLabels: "monitoring.prometheusPodLabels",
    keepImages: "serving.keepImages",
    expireTagPrefixes: "serving.expireTagPrefixes",
    strictZoneSpread: "production",
    preventDestroy: "production",
    inputFields: `${m}.inputFields`,
    "inferenceLog.sampling": `${m}.inferenceLog.sampling`,
    "inferenceLog.contextFields": `${m}.inferenceLog.contextFields`,
    "inferenceLog.rules": `${m}.inferenceLog.rules`,
    "inferenceLog.batchRecords": `${m}.inferenceLog.batchRecords`,
    "inferenceLog.flushSeconds": `${m}.inferenceLog.flushSeconds`,
    "inferenceLog.prefix": null,
    inferenceLog: null,
    pullerRoleArns: null,
    // Set by a GKE or AKS stack from its registry; an AWS stack makes an ECR repository.
    "imageRepository.repositoryUrl": null,
  };
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
    // An AWS stack's model gateways are behind an ALB; a GKE or AKS stack's behind ingress.gatewayRef.
    gatewayRef: null,
  };
}

/**
 * The props of every ModelEndpoint of a GCP environment, by model name (without `dependsOn`): the cloud-neutral
 * ones, the model's repository in the environment's Artifact Registry (`<registry>/<model>`), and, where the model
 * logs its inputs, the log into the artifact bucket as the model server's own Google service account (`identity`,
 * made by the stack: {@link modelServerName}'s Kubernetes service account may act as it).
 */
export function gcpModelEndpointProps(
  config: GcpEnvironmentConfig,
  namePrefix: string,
  deps: {
    /** The Artifact Registry repository's URL, `<region>-docker.pkg.dev/<project>/<repository>`. */
    readonly registryUrl: string;
    /** The artifact bucket. */
    readonly bucketName: string;
    /** Each logging model's server identity, and what its pods wait for. */
    readonly identities: Readonly<Record<string, { readonly contract: PodIdentityContract; readonly readyWith: ITerraformDependable[] }>>;
    /** GKE's flows (gkeCloudFlows): Google's APIs and the metadata server. */
    readonly cloud: CloudFlows;
  },
): Record<string, ModelEndpointProps> {
  const out: Record<string, ModelEndpointProps> = {};
  for (const [modelName, core] of Object.entries(modelServerProps(config, namePrefix))) {
    const identity = deps.identities[modelName];
    out[modelName] = {
      ...core,
      imageRepository: { repositoryUrl: `${deps.registryUrl}/${modelName}` },
      inferenceLog:
        config.serving.models[modelName].inferenceLog.enabled && identity
          ? {
              destination: `gs://${deps.bucketName}`,
              prefix: INFERENCE_LOG_PREFIX,
              identity: identity.contract,
              egress: [deps.cloud.apis, ...deps.cloud.credentials],
              readyWith: identity.readyWith,
              ...inferenceLogSettings(config, modelName),
            }
          : undefined,
    };
  }
  return out;
}

/** ModelEndpoint ("model_<model>") of a GCP environment: the AWS map, with the Artifact Registry and the bucket's fields. */
export function gcpModelEndpointFields(modelName: string): PropFieldMap {
  return {
    ...modelEndpointFields(modelName),
    "imageRepository.repositoryUrl": "gcp.region",
    "inferenceLog.destination": "artifacts.bucketName",
    "inferenceLog.egress": "ingress.vpcCidrs",
  };
}

/**
 * The `ingress` exposure on a cluster whose entry is a Gateway (GKE, AKS): one OAuth2 Proxy per released model, as
 * on AWS, behind an HTTPRoute for `<model>.<serving.ingress.domain>` on the environment's Gateway
 * (`ingress.gatewayRef`, whose listener certificate covers `ingress.certificateDomains`).
 */
export function gatewayModelGatewayFromConfig(
  scope: Construct,
  config: Pick<GcpEnvironmentConfig | AzureEnvironmentConfig, "serving" | "auth" | "ingress" | "production" | "monitoring">,
  namePrefix: string,
  modelName: string,
  endpoint: ModelEndpoint,
): ModelGateway | undefined {
  const common = modelGatewayCommonProps(config, namePrefix, modelName, endpoint);
  if (!common) return undefined;
  return new ModelGateway(scope, `model_gateway_${modelName.replace(/-/g, "_")}`, {
    ...common,
    gatewayRef: config.ingress.gatewayRef,
    certificateDomains: config.ingress.certificateDomains,
  });
}

/** The configuration field behind each ModelGateway prop {@link gatewayModelGatewayFromConfig} sets for `modelName`. */
export function gatewayModelGatewayFields(modelName: string): PropFieldMap {
  // The ALB's props are not set on a Gateway.
  const alb = new Set(["certificateArn", "scheme", "sslPolicy", "ingressGroup"]);
  const rest = Object.fromEntries(Object.entries(modelGatewayFields(modelName)).filter(([prop]) => !alb.has(prop)));
  return { ...rest, gatewayRef: "ingress.gatewayRef", certificateDomains: "ingress.certificateDomains" };
}
