/**
 * The `apiGateway` exposure of the model endpoints (serving.exposure: "apiGateway"): one API Gateway
 * **HTTP API** per stack in front of every served model, `POST https://<domain>/<model>/predict` and
 * `.../invocations`.
 *
 * Why an HTTP API and not a REST API: the platform's identity is an OIDC issuer, which an HTTP API checks
 * natively (JWT authorizer: signature against the issuer's JWKS, `iss`, `aud`, `exp`), whereas a REST API
 * needs a Lambda authorizer for OIDC (more code, cold starts, a function to patch). What a REST API adds,
 * usage plans with per-API-key quotas, is not per *verified identity* anyway (API keys are not
 * authentication). So: stage- and route-level throttling here; the allow-lists (auth.allowedEmailDomains,
 * allowedGroups) and the per-caller limit are the model server's, applied to the caller and groups headers
 * this integration overwrites from the verified token's `email` and groups claims (a JWT authorizer checks
 * issuer, audience and expiry only; one check in the server serves both exposures and is tested over HTTP).
 * An
 * HTTP API's integration timeout is fixed at 30 s at most, which is the model server's own request
 * timeout default.
 *
 * Creates: an internal ALB (private subnets, invalid headers dropped) with one IP target group per model
 * (health check `/ping`, registered by the AWS Load Balancer Controller from a TargetGroupBinding that the
 * model's chart carries) and listener rules on the `X-Model-Endpoint` header the integration sets; a VPC
 * link; the HTTP API (default endpoint disabled: only the custom domain), the JWT authorizer, one
 * integration and route per model and path; the `$default` stage with throttling and JSON access logs to a
 * KMS-encrypted log group (no Authorization header, no token, no body); the custom domain (ACM, TLS 1.2);
 * CloudWatch alarms on 5xx and p99 latency to the platform's SNS topic.
 *
 * The caller's token reaches the model server: `Authorization` is one of the headers HTTP API parameter
 * mapping may not remove (./http-api-rules.ts). What keeps it there: the server reads only its caller and
 * request-id headers, never logs, stores or forwards a header, and passes the model only the body
 * (runtime tests test_metrics_count_by_status_and_log_never_has_credentials); the model's pods have no
 * egress but (with inference logging) HTTPS to S3; only the VPC link's path reaches them.
 */
import { Construct } from "constructs";
import { Apigatewayv2Api } from "@cdktf/provider-aws/lib/apigatewayv2-api";
import { Apigatewayv2ApiMapping } from "@cdktf/provider-aws/lib/apigatewayv2-api-mapping";
import { Apigatewayv2Authorizer } from "@cdktf/provider-aws/lib/apigatewayv2-authorizer";
import { Apigatewayv2DomainName } from "@cdktf/provider-aws/lib/apigatewayv2-domain-name";
import { Apigatewayv2Integration } from "@cdktf/provider-aws/lib/apigatewayv2-integration";
import { Apigatewayv2Route } from "@cdktf/provider-aws/lib/apigatewayv2-route";
import { Apigatewayv2Stage } from "@cdktf/provider-aws/lib/apigatewayv2-stage";
import { Apigatewayv2VpcLink } from "@cdktf/provider-aws/lib/apigatewayv2-vpc-link";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { Lb } from "@cdktf/provider-aws/lib/lb";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { TerraformOutput } from "cdktf";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbListenerRule } from "@cdktf/provider-aws/lib/lb-listener-rule";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { arnPrefix, partitionOf } from "../core/aws";
import { arnProblem } from "../core/aws-limits";
import { GROUPS_HEADER, MODEL_SERVER_PORT, READY_PATH } from "./server-command";
import { HTTP_API_SOURCES, requestParameterProblems } from "../core/http-api-rules";
import { stackKeyPolicy } from "../core/kms-key-policy";
import { PropError } from "../core/prop-error";

/** The header the integration sets to pick the model's listener rule (and that the server ignores). */
export const MODEL_ENDPOINT_HEADER = "X-Model-Endpoint";
/** The routes each model gets, and the model server's path each maps to. */
export const MODEL_API_ROUTES: readonly string[] = ["predict", "invocations"];
/** API Gateway HTTP APIs' hard limit on an integration's timeout. */
export const HTTP_API_MAX_TIMEOUT_MS = 30_000;

/** The access log line: who, what, status and latency; never a header value, a token or a body. */
export const ACCESS_LOG_FORMAT: Readonly<Record<string, string>> = {
  requestId: "$context.requestId",
  time: "$context.requestTimeEpoch",
  caller: "$context.authorizer.claims.sub",
  sourceIp: "$context.identity.sourceIp",
  routeKey: "$context.routeKey",
  status: "$context.status",
  latencyMs: "$context.responseLatency",
  integrationLatencyMs: "$context.integrationLatency",
  integrationStatus: "$context.integrationStatus",
  integrationError: "$context.integrationErrorMessage",
  authorizerError: "$context.authorizer.error",
  responseLength: "$context.responseLength",
};

export interface ModelApiModel {
  /** Registered model name (the first path segment). */
  readonly modelName: string;
  /** Target group name suffix source and TargetGroupBinding owner: the endpoint's Service name. */
  readonly serviceName: string;
}

export interface ModelApiProps {
  /** Prefix of resource names, e.g. `mlflow-dev`. Required. */
  readonly namePrefix: string;
  readonly region: string;
  readonly accountId: string;
  /**
   * IAM roles that administer the access logs' key through its key policy: the CI deploy role, of this
   * account (constructs/core/kms-key-policy.ts). @default [] (the account's IAM policies decide)
   */
  readonly keyAdministratorArns?: readonly string[];
  readonly vpcId: string;
  /** Private subnets of the internal load balancer and the VPC link (two zones at least). Required. */
  readonly subnetIds: readonly string[];
  /** The models served through the API. Required (at least one). */
  readonly models: readonly ModelApiModel[];
  /** The OIDC issuer whose tokens the JWT authorizer accepts, and the audiences. Required. */
  readonly issuerUrl: string;
  readonly audiences: readonly string[];
  /**
   * The header the integration overwrites with the token's `email` claim: the model server's caller
   * header, which it checks against the allow-lists (the JWT authorizer checks none). @default "X-Caller-Id"
   */
  readonly callerHeader?: string;
  /** The claim holding the caller's groups, passed to the model server in X-Forwarded-Groups. @default "groups" */
  readonly groupsClaim?: string;
  /** Custom domain and its regional ACM certificate (in `region`: a regional API uses only its own region's). Required. */
  readonly domain: string;
  readonly certificateArn: string;
  /**
   * Route 53 hosted zone of `domain`: the stack creates the alias record to the API's regional endpoint.
   * Without it the record is the operator's (the target is the stack output `model_api_dns_target`). @default none
   */
  readonly hostedZoneId?: string;
  /** Stage-wide throttling. @default 100 / 200 */
  readonly throttle?: { readonly ratePerSecond: number; readonly burst: number };
  /** Per-route throttling. @default the stage's */
  readonly routeThrottle?: { readonly ratePerSecond: number; readonly burst: number };
  /** Integration timeout in ms (at most 30,000: an HTTP API limit). @default 30000 */
  readonly timeoutMs?: number;
  /** Days access logs are kept. @default 90 */
  readonly logRetentionDays?: number;
  /** Alarm thresholds: 5xx per minute and p99 latency in ms, 3 minutes in a row. @default 5 / 1000 */
  readonly alarm5xxPerMinute?: number;
  readonly alarmP99LatencyMs?: number;
  /** SNS topic the alarms notify (the platform's alarm topic). Required. */
  readonly alarmTopicArn: string;
  /** Refuse to destroy the log key: production. @default false */
  readonly preventDestroy?: boolean;
}

export class ModelApi extends Construct {
  readonly api: Apigatewayv2Api;
  readonly stage: Apigatewayv2Stage;
  readonly authorizer: Apigatewayv2Authorizer;
  readonly loadBalancer: Lb;
  /** Target group ARN per model: the model's chart binds its Service to it (TargetGroupBinding). */
  readonly targetGroupArns: Record<string, string> = {};
  readonly alarms: CloudwatchMetricAlarm[] = [];
  /** `https://<domain>`. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: ModelApiProps) {
    super(scope, id);
    if (props.models.length === 0) throw new PropError(this, "models", props.models, "at least one model");
    const certificate = arnProblem(props.certificateArn, {
      what: "an ACM certificate",
      service: "acm",
      resource: /^certificate\/[0-9a-f-]{36}$/,
      example: "certificate/<uuid>",
      regional: true,
      partition: partitionOf(props.region),
      region: { name: props.region, why: `not ${props.region}: a regional API's custom domain uses a certificate of its own region` },
    });
    if (certificate) throw new PropError(this, "certificateArn", props.certificateArn, certificate);
    if (!/^https:\/\/\S+$/.test(props.issuerUrl))
      throw new PropError(
        this,
        "issuerUrl",
        props.issuerUrl,
        `the https:// URL of the OIDC issuer (an HTTP API's JWT authorizer accepts only https issuers)`,
      );
    if (props.audiences.length === 0)
      throw new PropError(this, "audiences", props.audiences, "at least one audience (the platform's OIDC client id)");
    if (props.subnetIds.length < 2)
      throw new PropError(this, "subnetIds", props.subnetIds, "at least two private subnets (an ALB spans two zones)");
    const timeoutMs = props.timeoutMs ?? HTTP_API_MAX_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 50 || timeoutMs > HTTP_API_MAX_TIMEOUT_MS)
      throw new PropError(this, "timeoutMs", timeoutMs, `from 50 to ${HTTP_API_MAX_TIMEOUT_MS} (HTTP APIs cut integrations at 30 s)`);
    const callerHeader = props.callerHeader ?? "X-Caller-Id";
    const groupsClaim = props.groupsClaim ?? "groups";
    if (!/^[A-Za-z0-9_]{1,64}$/.test(groupsClaim))
      throw new PropError(
        this,
        "groupsClaim",
        groupsClaim,
        `a claim name of letters, digits and '_' (a context variable $context.authorizer.claims.<name>)`,
      );
    const throttle = props.throttle ?? { ratePerSecond: 100, burst: 200 };
    const routeThrottle = props.routeThrottle ?? throttle;
    if (routeThrottle.ratePerSecond > throttle.ratePerSecond || routeThrottle.burst > throttle.burst)
      throw new PropError(
        this,
        "routeThrottle",
        routeThrottle,
        `at most the stage's throttle ${JSON.stringify(throttle)} (the stage's limit applies first)`,
      );
    const name = props.namePrefix;
    const arn = arnPrefix(props.region);
    const tgName = (s: string) => `${s.slice(0, 29).replace(/-+$/, "")}-tg`;

    // ── Internal load balancer in front of the model Services ──
    const vpcLinkSg = new SecurityGroup(this, "vpc_link_sg", {
      name: `${name}-models-vpc-link`,
      description: "API Gateway VPC link to the models' internal load balancer",
      vpcId: props.vpcId,
    });
    const albSg = new SecurityGroup(this, "alb_sg", {
      name: `${name}-models-alb`,
      description: "Internal load balancer of the models: from the VPC link only",
      vpcId: props.vpcId,
    });
    new VpcSecurityGroupEgressRule(this, "vpc_link_to_alb", {
      securityGroupId: vpcLinkSg.id,
      referencedSecurityGroupId: albSg.id,
      ipProtocol: "tcp",
      fromPort: 80,
      toPort: 80,
      description: "to the models' load balancer",
    });
    new VpcSecurityGroupIngressRule(this, "alb_from_vpc_link", {
      securityGroupId: albSg.id,
      referencedSecurityGroupId: vpcLinkSg.id,
      ipProtocol: "tcp",
      fromPort: 80,
      toPort: 80,
      description: "from the API's VPC link",
    });
    // To the pods (target type ip); the model's NetworkPolicy admits these subnets' CIDRs (serving.gatewayCidrs).
    new VpcSecurityGroupEgressRule(this, "alb_to_pods", {
      securityGroupId: albSg.id,
      cidrIpv4: "0.0.0.0/0",
      ipProtocol: "tcp",
      fromPort: MODEL_SERVER_PORT,
      toPort: MODEL_SERVER_PORT,
      description: "to the model server pods (VPC addresses)",
    });
    this.loadBalancer = new Lb(this, "alb", {
      name: `${name}-models`.slice(0, 32).replace(/-+$/, ""),
      internal: true,
      loadBalancerType: "application",
      subnets: [...props.subnetIds],
      securityGroups: [albSg.id],
      dropInvalidHeaderFields: true,
      // Above the API's 30 s integration timeout, below the model server's 75 s keep-alive.
      idleTimeout: 60,
    });
    const listener = new LbListener(this, "listener", {
      loadBalancerArn: this.loadBalancer.arn,
      port: 80,
      protocol: "HTTP",
      defaultAction: [
        {
          type: "fixed-response",
          fixedResponse: { contentType: "application/json", statusCode: "404", messageBody: '{"message":"no such model"}' },
        },
      ],
    });

    // ── The API ──
    this.api = new Apigatewayv2Api(this, "api", {
      name: `${name}-models`,
      protocolType: "HTTP",
      description: "Model endpoints (POST /<model>/predict, /<model>/invocations)",
      // Only the custom domain serves the API.
      disableExecuteApiEndpoint: true,
    });
    this.authorizer = new Apigatewayv2Authorizer(this, "authorizer", {
      apiId: this.api.id,
      name: "platform-oidc",
      authorizerType: "JWT",
      identitySources: ["$request.header.Authorization"],
      // Exactly as the identity provider writes `iss` (API Gateway compares them as strings: a trailing "/" counts).
      jwtConfiguration: { issuer: props.issuerUrl, audience: [...props.audiences] },
    });
    const vpcLink = new Apigatewayv2VpcLink(this, "vpc_link", {
      name: `${name}-models`,
      subnetIds: [...props.subnetIds],
      securityGroupIds: [vpcLinkSg.id],
    });

    const routeSettings: {
      routeKey: string;
      throttlingRateLimit: number;
      throttlingBurstLimit: number;
      detailedMetricsEnabled: boolean;
    }[] = [];
    const routes: Apigatewayv2Route[] = [];
    props.models.forEach((m, n) => {
      const tg = new LbTargetGroup(this, `tg_${m.modelName.replace(/-/g, "_")}`, {
        name: tgName(`${name}-${m.modelName}`),
        port: MODEL_SERVER_PORT,
        protocol: "HTTP",
        targetType: "ip",
        vpcId: props.vpcId,
        // The server drains for 5 s after SIGTERM; the load balancer stops sending within that.
        deregistrationDelay: "10",
        healthCheck: {
          path: READY_PATH,
          port: "traffic-port",
          protocol: "HTTP",
          matcher: "200",
          interval: 10,
          timeout: 5,
          healthyThreshold: 2,
          unhealthyThreshold: 2,
        },
      });
      this.targetGroupArns[m.modelName] = tg.arn;
      new LbListenerRule(this, `rule_${m.modelName.replace(/-/g, "_")}`, {
        listenerArn: listener.arn,
        priority: n + 1,
        condition: [{ httpHeader: { httpHeaderName: MODEL_ENDPOINT_HEADER, values: [m.modelName] } }],
        action: [{ type: "forward", targetGroupArn: tg.arn }],
      });
      for (const route of MODEL_API_ROUTES) {
        const requestParameters = {
          "overwrite:path": `/${route}`,
          // The verified groups, replacing whatever the client sent: the server's allowedGroups check.
          [`overwrite:header.${GROUPS_HEADER}`]: `$context.authorizer.claims.${groupsClaim}`,
          [`overwrite:header.${MODEL_ENDPOINT_HEADER}`]: m.modelName,
          // The verified caller's e-mail, replacing whatever the client sent: the model server checks
          // it against the allow-lists (403 without one) and keys its per-caller limit on it.
          [`overwrite:header.${callerHeader}`]: "$context.authorizer.claims.email",
          "overwrite:header.X-Request-Id": "$context.requestId",
        };
        const problems = requestParameterProblems(requestParameters);
        if (problems.length > 0)
          throw new PropError(
            this,
            "callerHeader",
            callerHeader,
            `a header a request mapping may set (${HTTP_API_SOURCES.parameterMapping}): ${problems.join("; ")}`,
          );
        const integration = new Apigatewayv2Integration(this, `integration_${m.modelName.replace(/-/g, "_")}_${route}`, {
          apiId: this.api.id,
          integrationType: "HTTP_PROXY",
          integrationMethod: "POST",
          connectionType: "VPC_LINK",
          connectionId: vpcLink.id,
          integrationUri: listener.arn,
          payloadFormatVersion: "1.0",
          timeoutMilliseconds: timeoutMs,
          requestParameters,
        });
        const routeKey = `POST /${m.modelName}/${route}`;
        routes.push(
          new Apigatewayv2Route(this, `route_${m.modelName.replace(/-/g, "_")}_${route}`, {
            apiId: this.api.id,
            routeKey,
            authorizationType: "JWT",
            authorizerId: this.authorizer.id,
            target: `integrations/${integration.id}`,
          }),
        );
        routeSettings.push({
          routeKey,
          throttlingRateLimit: routeThrottle.ratePerSecond,
          throttlingBurstLimit: routeThrottle.burst,
          detailedMetricsEnabled: true,
        });
      }
    });

    // ── Access logs: KMS-encrypted, JSON, no credential ──
    const logGroupName = `/aws/apigateway/${name}-models`;
    const key = new KmsKey(this, "log_key", {
      description: `API Gateway access logs of ${name} models`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      lifecycle: props.preventDestroy ? { preventDestroy: true } : undefined,
      policy: stackKeyPolicy({
        partition: arn.split(":")[1],
        accountId: props.accountId,
        accountSid: "AccountAdmin",
        administratorArns: props.keyAdministratorArns,
        scope: this,
        extra: [
          {
            Sid: "CloudWatchLogsEncryptAccessLogs",
            Effect: "Allow",
            Principal: { Service: `logs.${props.region}.amazonaws.com` },
            Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            Resource: "*",
            Condition: {
              ArnLike: { "kms:EncryptionContext:aws:logs:arn": `${arn}:logs:${props.region}:${props.accountId}:log-group:${logGroupName}` },
            },
          },
        ],
      }),
    });
    const logs = new CloudwatchLogGroup(this, "access_logs", {
      name: logGroupName,
      retentionInDays: props.logRetentionDays ?? 90,
      kmsKeyId: key.arn,
    });
    this.stage = new Apigatewayv2Stage(this, "stage", {
      apiId: this.api.id,
      name: "$default",
      autoDeploy: true,
      defaultRouteSettings: {
        throttlingRateLimit: throttle.ratePerSecond,
        throttlingBurstLimit: throttle.burst,
        detailedMetricsEnabled: true,
      },
      routeSettings,
      accessLogSettings: { destinationArn: logs.arn, format: JSON.stringify(ACCESS_LOG_FORMAT) },
      // CreateStage refuses route settings for a route that does not exist yet (HTTP_API_SOURCES.stageRouteSettings).
      dependsOn: routes,
    });

    // ── Custom domain ──
    const domain = new Apigatewayv2DomainName(this, "domain", {
      domainName: props.domain,
      domainNameConfiguration: { certificateArn: props.certificateArn, endpointType: "REGIONAL", securityPolicy: "TLS_1_2" },
    });
    new Apigatewayv2ApiMapping(this, "mapping", { apiId: this.api.id, domainName: domain.id, stage: this.stage.id });
    this.url = `https://${props.domain}`;
    // DNS: the alias record where the zone is given; else the target the operator's record must point at.
    if (props.hostedZoneId) {
      new Route53Record(this, "dns_record", {
        zoneId: props.hostedZoneId,
        name: props.domain,
        type: "A",
        alias: {
          name: domain.domainNameConfiguration.targetDomainName,
          zoneId: domain.domainNameConfiguration.hostedZoneId,
          evaluateTargetHealth: false,
        },
      });
    }
    new TerraformOutput(this, "dns_target", {
      description: `Where ${props.domain} must point (alias A record, or CNAME): the API's regional endpoint and its hosted zone`,
      value: {
        domain: props.domain,
        target: domain.domainNameConfiguration.targetDomainName,
        hostedZoneId: domain.domainNameConfiguration.hostedZoneId,
        managedByStack: Boolean(props.hostedZoneId),
      },
    }).overrideLogicalId("model_api_dns_target");

    // ── Alarms to the platform's topic ──
    const dimensions = { ApiId: this.api.id, Stage: "$default" };
    this.alarms.push(
      new CloudwatchMetricAlarm(this, "alarm_5xx", {
        alarmName: `${name}-models-5xx`,
        alarmDescription: `Model API answers 5xx (more than ${props.alarm5xxPerMinute ?? 5} a minute, 3 minutes in a row): see docs/model-serving.md`,
        namespace: "AWS/ApiGateway",
        metricName: "5xx",
        dimensions,
        statistic: "Sum",
        period: 60,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        threshold: props.alarm5xxPerMinute ?? 5,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
        alarmActions: [props.alarmTopicArn],
        okActions: [props.alarmTopicArn],
      }),
    );
    this.alarms.push(
      new CloudwatchMetricAlarm(this, "alarm_latency", {
        alarmName: `${name}-models-p99-latency`,
        alarmDescription: `Model API p99 latency above ${props.alarmP99LatencyMs ?? 1000} ms, 3 minutes in a row: see docs/model-serving.md`,
        namespace: "AWS/ApiGateway",
        metricName: "Latency",
        dimensions,
        extendedStatistic: "p99",
        period: 60,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        threshold: props.alarmP99LatencyMs ?? 1000,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
        alarmActions: [props.alarmTopicArn],
        okActions: [props.alarmTopicArn],
      }),
    );
  }
}
