import { ACCESS_LOG_FORMAT, HTTP_API_MAX_TIMEOUT_MS } from "../../../constructs/model-endpoint/api-gateway";
import { requestParameterProblems } from "../../../constructs/core/http-api-rules";
import { modelGatewayPodLabels } from "../../../constructs/model-endpoint/gateway";
import { MODEL_GATEWAY_CALLER_HEADER } from "../../../constructs/model-endpoint/gateway-command";
import { modelServerCommand } from "../../../constructs/model-endpoint/server-command";
import { configProblems, envConfig, onlyResource, resourcesOf, synthJson, type TfJson } from "../../helpers/synth";

const DIGEST = `sha256:${"ef".repeat(32)}`;
const CERT = "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-0000000000aa";
const released = { "iris-classifier": { version: "5", imageDigest: DIGEST } };
const apiGateway = {
  domain: "api.models.example.com",
  certificateArn: CERT,
  certificateDomains: ["*.models.example.com"],
  loadBalancerSubnetIds: ["subnet-0aaa1111", "subnet-0bbb2222"],
  throttleRatePerSecond: 50,
  throttleBurst: 100,
  routeThrottleRatePerSecond: 20,
  routeThrottleBurst: 40,
};

function apiStack(): { json: TfJson; issuer: string; clientId: string } {
  const cfg = envConfig("dev", { serving: { releases: released, exposure: "apiGateway", apiGateway } });
  return { json: synthJson(cfg), issuer: cfg.auth.issuerUrl, clientId: cfg.auth.clientId };
}

describe("exposure through API Gateway (HTTP API)", () => {
  const { json, issuer, clientId } = apiStack();

  it("authorizes with a JWT authorizer on the platform's issuer and client id", () => {
    const a = onlyResource(json, "aws_apigatewayv2_authorizer");
    expect(a.authorizer_type).toBe("JWT");
    expect(a.identity_sources).toEqual(["$request.header.Authorization"]);
    expect(a.jwt_configuration.issuer).toBe(issuer);
    expect(a.jwt_configuration.audience).toEqual([clientId]);
    const routes = Object.values(resourcesOf(json, "aws_apigatewayv2_route"));
    expect(routes.map((r) => r.route_key).sort()).toEqual(["POST /iris-classifier/invocations", "POST /iris-classifier/predict"]);
    for (const r of routes) expect(r).toMatchObject({ authorization_type: "JWT" });
    expect(onlyResource(json, "aws_apigatewayv2_api")).toMatchObject({ protocol_type: "HTTP", disable_execute_api_endpoint: true });
  });

  it("reaches the model privately (VPC link, internal ALB, ip targets health-checked on /ping) within the 30 s limit, setting the caller from the token", () => {
    const integrations = Object.values(resourcesOf(json, "aws_apigatewayv2_integration"));
    for (const i of integrations) {
      expect(i).toMatchObject({
        connection_type: "VPC_LINK",
        integration_type: "HTTP_PROXY",
        timeout_milliseconds: HTTP_API_MAX_TIMEOUT_MS,
      });
      expect(i.request_parameters["overwrite:header.X-Caller-Id"]).toBe("$context.authorizer.claims.email");
      // AWS refuses a mapping of a reserved header such as Authorization: every integration create would fail.
      expect(requestParameterProblems(i.request_parameters)).toEqual([]);
    }
    expect(integrations.map((i) => i.request_parameters["overwrite:path"]).sort()).toEqual(["/invocations", "/predict"]);
    expect(onlyResource(json, "aws_lb")).toMatchObject({ internal: true, drop_invalid_header_fields: true });
    expect(onlyResource(json, "aws_lb_target_group")).toMatchObject({ target_type: "ip", port: 8080, health_check: { path: "/ping" } });
    // The model's chart binds its Service to the target group.
    const chart = Object.values(resourcesOf(json, "helm_release")).find((r) => (r.name as string).includes("iris-classifier"))!;
    const tgb = JSON.parse(chart.values[0]).resources.find((o: any) => o.kind === "TargetGroupBinding");
    expect(tgb.spec).toMatchObject({ serviceRef: { name: "mlflow-dev-iris-classifier", port: 80 }, targetType: "ip" });
    expect(tgb.spec.targetGroupARN).toMatch(/aws_lb_target_group\..*\.arn/);
  });

  it("keeps the issuer exactly as the identity provider writes iss (a trailing / included)", () => {
    const cfg = envConfig("dev", {
      auth: { issuerUrl: "https://tenant.eu.auth0.com/" },
      serving: { releases: released, exposure: "apiGateway", apiGateway },
    });
    expect(onlyResource(synthJson(cfg), "aws_apigatewayv2_authorizer").jwt_configuration.issuer).toBe("https://tenant.eu.auth0.com/");
  });

  it("creates the stage after the routes its route settings name (CreateStage refuses unknown route keys)", () => {
    const stage = onlyResource(json, "aws_apigatewayv2_stage");
    const routes = Object.entries(resourcesOf(json, "aws_apigatewayv2_route"));
    const named = new Set(stage.route_settings.map((r: any) => r.route_key));
    expect(named.size).toBeGreaterThan(0);
    for (const [address, route] of routes) {
      if (named.has(route.route_key)) expect(stage.depends_on).toContain(`aws_apigatewayv2_route.${address}`);
    }
  });

  it("refuses at synth what AWS refuses at deploy: a certificate of another region or account, one that does not cover the domain, a reserved caller header", () => {
    const with_ = (g: object, extra: object = {}) =>
      configProblems({ serving: { releases: released, exposure: "apiGateway", apiGateway: { ...apiGateway, ...g }, ...extra } }).join("\n");
    expect(with_({ certificateArn: CERT.replace("eu-west-1", "us-east-1") })).toMatch(
      /environment "dev": field serving.apiGateway.certificateArn = .*it is in us-east-1, not the environment's region \(eu-west-1\)/,
    );
    expect(with_({ certificateArn: CERT.replace("111111111111", "999999999999") })).toMatch(
      /field serving.apiGateway.certificateArn = .*belongs to account 999999999999/,
    );
    expect(with_({ certificateDomains: ["*.example.com"] })).toMatch(
      /environment "dev": field serving.apiGateway.domain = "api.models.example.com": expected a name covered by serving.apiGateway.certificateDomains \(\*.example.com\)/,
    );
    expect(with_({ certificateDomains: undefined })).toMatch(
      /field serving.apiGateway.certificateDomains = nothing: expected the domains serving.apiGateway.certificateArn covers/,
    );
    // The tracking ingress's certificate brings its own domains (ingress.certificateDomains: *.example.com).
    expect(() =>
      envConfig("dev", {
        serving: {
          releases: released,
          exposure: "apiGateway",
          apiGateway: {
            ...apiGateway,
            certificateDomains: undefined,
            certificateArn: envConfig("dev").ingress.certificateArn,
            domain: "models.example.com",
          },
        },
      }),
    ).not.toThrow();
    expect(with_({ certificateDomains: undefined, certificateArn: envConfig("dev").ingress.certificateArn })).toMatch(
      /field serving.apiGateway.domain = "api.models.example.com": expected a name covered by ingress.certificateDomains/,
    );
    expect(with_({}, { callerHeader: "X-Forwarded-For" })).toMatch(
      /field serving.callerHeader = "X-Forwarded-For": expected a header API Gateway may set/,
    );
  });

  it("throttles the stage and each route", () => {
    const stage = onlyResource(json, "aws_apigatewayv2_stage");
    expect(stage.default_route_settings).toMatchObject({ throttling_rate_limit: 50, throttling_burst_limit: 100 });
    expect(stage.route_settings.map((r: any) => [r.route_key, r.throttling_rate_limit, r.throttling_burst_limit])).toEqual([
      ["POST /iris-classifier/predict", 20, 40],
      ["POST /iris-classifier/invocations", 20, 40],
    ]);
    expect(
      configProblems({ serving: { releases: released, exposure: "apiGateway", apiGateway: { ...apiGateway, throttleBurst: 0 } } }).join(
        "\n",
      ),
    ).toMatch(/serving.apiGateway.throttleBurst/);
  });

  it("logs access as JSON to a KMS-encrypted log group, without the Authorization header or any header value", () => {
    const stage = onlyResource(json, "aws_apigatewayv2_stage");
    const format = stage.access_log_settings.format as string;
    expect(JSON.parse(format)).toEqual(ACCESS_LOG_FORMAT);
    expect(format).not.toMatch(/authorization|\$request\.header|cookie|\$context\.authorizer\.claims\.email/i);
    expect(stage.access_log_settings.destination_arn).toMatch(/aws_cloudwatch_log_group\..*\.arn/);
    const group = Object.values(resourcesOf(json, "aws_cloudwatch_log_group")).find((g) =>
      (g.name as string).startsWith("/aws/apigateway/"),
    )!;
    expect(group.kms_key_id).toMatch(/aws_kms_key\..*\.arn/);
  });

  it("serves the custom domain with ACM and TLS 1.2", () => {
    expect(onlyResource(json, "aws_apigatewayv2_domain_name")).toMatchObject({
      domain_name: apiGateway.domain,
      domain_name_configuration: { certificate_arn: CERT, security_policy: "TLS_1_2", endpoint_type: "REGIONAL" },
    });
  });

  it("creates the domain's alias record where the hosted zone is configured; else outputs where the operator's record must point", () => {
    expect(resourcesOf(json, "aws_route53_record")).toEqual({});
    const target = json.output?.model_api_dns_target?.value as Record<string, string>;
    expect(target).toMatchObject({ domain: apiGateway.domain, managedByStack: false });
    expect(target.target).toMatch(/aws_apigatewayv2_domain_name\..*\.domain_name_configuration\[0\]\.target_domain_name/);
    const withZone = synthJson(
      envConfig("dev", {
        serving: { releases: released, exposure: "apiGateway", apiGateway: { ...apiGateway, route53ZoneId: "Z0123456789ABCDEFGHIJ" } },
      }),
    );
    const record = onlyResource(withZone, "aws_route53_record");
    expect(record).toMatchObject({
      zone_id: "Z0123456789ABCDEFGHIJ",
      name: apiGateway.domain,
      type: "A",
      alias: { evaluate_target_health: false },
    });
    expect(record.alias.name).toMatch(/target_domain_name/);
    expect(record.alias.zone_id).toMatch(/hosted_zone_id/);
    expect(
      configProblems({ serving: { exposure: "apiGateway", apiGateway: { ...apiGateway, route53ZoneId: "example.com" } } }).join("\n"),
    ).toMatch(/field serving.apiGateway.route53ZoneId/);
  });

  it("alarms on 5xx and p99 latency to the platform's SNS topic", () => {
    const alarms = Object.values(resourcesOf(json, "aws_cloudwatch_metric_alarm")).filter((a) => a.namespace === "AWS/ApiGateway");
    expect(alarms.map((a) => a.metric_name).sort()).toEqual(["5xx", "Latency"]);
    expect(alarms.find((a) => a.metric_name === "Latency")?.extended_statistic).toBe("p99");
    for (const a of alarms) expect(a.alarm_actions[0]).toMatch(/aws_sns_topic\..*\.arn/);
  });

  it("names environment and field of a missing or misplaced exposure setting", () => {
    expect(configProblems({ serving: { exposure: "apiGateway" } }).join("\n")).toMatch(/environment "dev": field serving.apiGateway/);
    expect(configProblems({ serving: { exposure: "ingress" } }).join("\n")).toMatch(/field serving.ingress/);
    expect(configProblems({ serving: { exposure: "none", apiGateway } }).join("\n")).toMatch(
      /serving.apiGateway.*nothing unless serving.exposure is "apiGateway"/,
    );
    expect(configProblems({ serving: { exposure: "sideways" } }).join("\n")).toMatch(/field serving.exposure/);
    expect(
      configProblems({ serving: { exposure: "ingress", ingress: { domain: "models.example.com" }, callerHeader: "X-Caller-Id" } }).join(
        "\n",
      ),
    ).toMatch(/serving.callerHeader.*X-Forwarded-Email/);
  });
});

describe("exposure through an ingress (OAuth2 Proxy per model)", () => {
  const cfg = envConfig("dev", { serving: { releases: released, exposure: "ingress", ingress: { domain: "models.example.com" } } });
  const json = synthJson(cfg);
  const gw = Object.values(resourcesOf(json, "kubernetes_deployment_v1")).find(
    (d) => d.metadata.name === "mlflow-dev-iris-classifier-gateway",
  )!;
  const env = Object.fromEntries(gw.spec.template.spec.container[0].env.map((e: any) => [e.name, e.value ?? e.value_from]));

  it("accepts bearer tokens of the platform's issuer only and answers 401 on every route without one", () => {
    expect(env).toMatchObject({
      OAUTH2_PROXY_OIDC_ISSUER_URL: cfg.auth.issuerUrl,
      OAUTH2_PROXY_CLIENT_ID: cfg.auth.clientId,
      OAUTH2_PROXY_SKIP_JWT_BEARER_TOKENS: "true",
      OAUTH2_PROXY_API_ROUTES: "^/",
      OAUTH2_PROXY_BEARER_TOKEN_LOGIN_FALLBACK: "false",
      OAUTH2_PROXY_PASS_AUTHORIZATION_HEADER: "false",
      OAUTH2_PROXY_UPSTREAMS: "http://mlflow-dev-iris-classifier.models.svc:80/",
    });
    expect(env.OAUTH2_PROXY_CLIENT_SECRET.secret_key_ref.name).toBe("mlflow-dev-iris-classifier-gateway-secrets");
  });

  it("the model server keys callers on the header the gateway overwrites, and admits only the gateway's pods", () => {
    const server = Object.values(resourcesOf(json, "kubernetes_deployment_v1")).find(
      (d) => d.metadata.name === "mlflow-dev-iris-classifier",
    )!;
    const args: string[] = server.spec.template.spec.container[0].args;
    expect(args[args.indexOf("--caller-header") + 1]).toBe(MODEL_GATEWAY_CALLER_HEADER);
    const np = Object.values(resourcesOf(json, "kubernetes_network_policy_v1")).find(
      (p) => p.metadata.name === "mlflow-dev-iris-classifier",
    )!;
    expect(np.spec.ingress[0].from).toContainEqual({
      namespace_selector: { match_labels: { "kubernetes.io/metadata.name": "models" } },
      pod_selector: { match_labels: modelGatewayPodLabels("mlflow-dev-iris-classifier") },
    });
  });

  it("is reached through an HTTPS-only ALB Ingress for <model>.<domain>", () => {
    const ing = Object.values(resourcesOf(json, "kubernetes_ingress_v1")).find(
      (i) => i.metadata.name === "mlflow-dev-iris-classifier-gateway",
    )!;
    expect(ing.spec.rule[0].host).toBe("iris-classifier.models.example.com");
    expect(ing.metadata.annotations["alb.ingress.kubernetes.io/listen-ports"]).toBe('[{"HTTPS":443}]');
    expect(ing.metadata.annotations["alb.ingress.kubernetes.io/scheme"]).toBe("internal");
  });
});

describe("the model server checks the verified identity behind either gateway", () => {
  const serverArgs = (overrides: object): string[] => {
    const json = synthJson(envConfig("dev", overrides));
    const server = Object.values(resourcesOf(json, "kubernetes_deployment_v1")).find(
      (d) => d.metadata.name === "mlflow-dev-iris-classifier",
    )!;
    return server.spec.template.spec.container[0].args;
  };
  const arg = (args: string[], flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);

  it("applies the sign-in allow-lists with the ingress and the API Gateway exposure; not with in-cluster peers only", () => {
    const ingress = serverArgs({ serving: { releases: released, exposure: "ingress", ingress: { domain: "models.example.com" } } });
    const api = serverArgs({ serving: { releases: released, exposure: "apiGateway", apiGateway, gatewayCidrs: ["10.0.0.0/16"] } });
    const none = serverArgs({ serving: { releases: released } });
    for (const args of [ingress, api]) {
      expect(arg(args, "--allowed-email-domains")).toBe(envConfig("dev").auth.allowedEmailDomains.join(","));
      expect(arg(args, "--groups-header")).toBe("X-Forwarded-Groups");
    }
    expect(none).not.toContain("--allowed-email-domains");
    // Groups only, any domain: a named choice that reaches the server too.
    const groups = serverArgs({
      auth: { allowedEmailDomains: [], allowAnyEmailDomain: true, allowedGroups: ["ml-users"] },
      serving: { releases: released, exposure: "ingress", ingress: { domain: "models.example.com" } },
    });
    expect(groups).toContain("--any-email-domain");
    expect(arg(groups, "--allowed-groups")).toBe("ml-users");
  });

  it("API Gateway overwrites the caller header with the token's e-mail and the groups header with its groups claim", () => {
    const json = synthJson(envConfig("dev", { serving: { releases: released, exposure: "apiGateway", apiGateway } }));
    for (const i of Object.values(resourcesOf(json, "aws_apigatewayv2_integration"))) {
      expect(i.request_parameters["overwrite:header.X-Forwarded-Groups"]).toBe(
        `$context.authorizer.claims.${envConfig("dev").auth.groupsClaim}`,
      );
    }
  });

  it("admits the release's smoke test by its own id, never an address", () => {
    const args = serverArgs({
      serving: {
        releases: released,
        exposure: "ingress",
        ingress: { domain: "models.example.com" },
        delivery: { strategy: "blueGreen" },
        models: { "iris-classifier": { smokeTest: { row: [5.1, 3.5, 1.4, 0.2] } } },
      },
    });
    expect(arg(args, "--internal-callers")).toBe("smoke-test");
    expect(() =>
      modelServerCommand({
        image: "i",
        modelName: "m",
        modelVersion: "1",
        maxConcurrency: 1,
        maxBodyBytes: 1024,
        callerHeader: "X-Caller-Id",
        callerRate: 1,
        callerBurst: 1,
        requestTimeoutSeconds: 1,
        classNames: [],
        identity: { allowedEmailDomains: ["example.com"], allowedGroups: [], internalCallers: ["bot@example.com"] },
      }),
    ).toThrow(/never an address/);
  });
});
