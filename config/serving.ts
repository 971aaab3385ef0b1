/**
 * The `serving` section: the models an environment serves as REST microservices.
 *
 * What a model is (its limits, sizes, labels) lives in `config/environments.ts` (`serving.models`);
 * which version is released, with which image digest, lives in `config/releases/<env>.json`, the one file
 * a release pipeline changes and a reviewer reads (`serving.releases`). A model without a release gets its
 * ECR repository only (the first image needs somewhere to be pushed before a digest exists).
 */
import { z } from "zod";
import { CPU_PATTERN, MEMORY_PATTERN } from "../constructs/core/quantity";
import { dnsLabel } from "./primitives";
import { driftSchema, inferenceLogSchema, inferenceProblems } from "./inference";
import { arnProblem, certificateCoverageProblem, partitionOf, regionProblem } from "../constructs/core/aws-limits";
import { isReservedHttpApiHeader } from "../constructs/core/http-api-rules";
import { releaseTagOverlap } from "../constructs/core/ecr-rules";

const MODEL_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
const num = (min: number, max: number, what: string, integer = true) => {
  const msg = `${what}: a ${integer ? "whole number" : "number"} from ${min} to ${max}`;
  const base = z.number({ error: msg }).min(min, { error: msg }).max(max, { error: msg });
  return integer ? base.int({ error: msg }) : base;
};
const cpu = z.string().regex(CPU_PATTERN, { error: 'a Kubernetes CPU quantity such as "250m" or "1"' });
const memory = z.string().regex(MEMORY_PATTERN, { error: 'a Kubernetes memory quantity such as "512Mi" or "2Gi"' });

export const servedModelSchema = z
  .object({
    replicas: z
      .object({
        min: num(1, 100, "replicas").default(2).describe("Lowest replica count (HorizontalPodAutoscaler minReplicas)."),
        max: num(1, 100, "replicas").default(4).describe("Highest replica count (HorizontalPodAutoscaler maxReplicas)."),
      })
      .strict()
      .default({ min: 2, max: 4 })
      .describe("Replica range; the HPA scales on CPU between them."),
    resources: z
      .object({
        requests: z.object({ cpu: cpu.describe("CPU request."), memory: memory.describe("Memory request.") }).strict(),
        limits: z
          .object({ memory: memory.describe("Memory limit."), cpu: cpu.optional().describe("CPU limit (unset: no throttling).") })
          .strict(),
      })
      .strict()
      .default({ requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } })
      .describe("Container resources of the model server."),
    maxConcurrency: num(1, 256, "maxConcurrency").default(8).describe("Requests one pod works on at once; more get 429 with Retry-After."),
    maxBodyBytes: num(1024, 64 * 1024 * 1024, "maxBodyBytes")
      .default(1_048_576)
      .describe("Largest request body; larger gets 413."),
    callerRate: num(0.1, 100_000, "callerRate", false)
      .default(50)
      .describe("Requests per second per authenticated caller, per pod, on average; more get 429."),
    callerBurst: num(1, 100_000, "callerBurst").default(100).describe("Burst per caller, per pod."),
    requestTimeoutSeconds: num(1, 300, "requestTimeoutSeconds").default(30).describe("Deadline of a prediction (504 after)."),
    bodyTimeoutSeconds: num(1, 300, "bodyTimeoutSeconds")
      .default(10)
      .describe("Seconds a request body gets to arrive (408 after); no prediction slot is held meanwhile."),
    maxUploadsPerCaller: num(1, 1024, "maxUploadsPerCaller")
      .default(8)
      .describe("Request bodies one caller may be sending at once, per pod (429 beyond): a slow uploader holds its own share only."),
    classNames: z
      .array(z.string().min(1))
      .default([])
      .describe("Names of the classes, in the model's order; /predict then answers labels too."),
    smokeTest: z
      .object({
        row: z
          .array(z.number())
          .min(1, { error: "at least one feature" })
          .describe('The features sent as `POST /predict {"data": row}` to the new version before it gets traffic.'),
        expectLabel: z.string().min(1).optional().describe("The label the answer must give for the row (needs classNames)."),
      })
      .strict()
      .optional()
      .describe("The release smoke test's request (required for a released model when delivery.strategy is blueGreen or canary)."),
    // Inference observability (config/inference.ts).
    inputFields: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, { error: "a field name of letters, digits and '_'" }))
      .default([])
      .describe(
        "Names of the model's input features, in order: logged records, metrics and drift name features by them; obfuscation rules may only name these and inferenceLog.contextFields.",
      ),
    inferenceLog: inferenceLogSchema.prefault({}).describe("Input/output logging with obfuscation (docs/inference-observability.md)."),
    drift: driftSchema
      .prefault({})
      .describe("Scheduled drift detection against the training reference, and the continuous PSI alert's threshold."),
  })
  .strict();

export const releaseSchema = z
  .object({
    version: z
      .string()
      .regex(/^[1-9]\d*$/, { error: 'a registered model version number such as "3"' })
      .describe("The registered model version the image was built from."),
    imageDigest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/, { error: 'an image digest "sha256:<64 hex>" (the pushed image\'s, never a tag)' })
      .describe("Digest of the image in the model's ECR repository; pods run exactly these bytes."),
  })
  .strict();

/** How a new release reaches traffic (docs/model-serving.md, "Delivery"). */
export const deliverySchema = z
  .object({
    strategy: z
      .enum(["blueGreen", "canary", "rollingUpdate"])
      .default("blueGreen")
      .describe(
        "`blueGreen`: an Argo Rollouts Rollout with active and preview Services, a pre-promotion smoke test and analysis, rollback when analysis fails; `canary`: the same Rollout shifting replicas by `canaryWeights`; `rollingUpdate`: the Deployment alone (no Argo Rollouts).",
      ),
    autoPromotionEnabled: z
      .boolean()
      .default(true)
      .describe(
        "blueGreen: promote the preview to active once the pre-promotion analysis passed; false: wait for `kubectl argo rollouts promote`.",
      ),
    canaryWeights: z
      .array(num(1, 99, "canaryWeights"))
      .min(1, { error: "at least one weight" })
      .default([25, 50])
      .describe("canary: the traffic shares (percent, increasing), each held for `pauseSeconds` while the analysis runs."),
    pauseSeconds: num(0, 86_400, "pauseSeconds").default(120).describe("canary: seconds each weight is held."),
    maxErrorRatio: num(0, 1, "maxErrorRatio", false)
      .default(0.01)
      .describe("Highest share of 5xx answers of the new version during analysis."),
    maxP99Seconds: num(0.001, 60, "maxP99Seconds", false)
      .default(0.25)
      .describe("Highest p99 latency (seconds) of the new version during analysis."),
    analysisWindow: z
      .string()
      .regex(/^[1-9]\d*[smh]$/, { error: 'a Prometheus duration such as "2m"' })
      .default("2m")
      .describe("Rate window of the analysis queries."),
    analysisIntervalSeconds: num(10, 3600, "analysisIntervalSeconds").default(30).describe("Seconds between two analysis measurements."),
    analysisCount: num(1, 100, "analysisCount")
      .default(4)
      .describe("Measurements per post-promotion (or canary) analysis; any failed one aborts and rolls back."),
    prometheusUrl: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, { error: 'an http(s) URL such as "http://prometheus-operated.monitoring.svc:9090"' })
      .optional()
      .describe(
        "Prometheus the analysis queries; defaults to the Prometheus operator's `prometheus-operated` Service in monitoring.namespace.",
      ),
    controller: z
      .enum(["install", "existing"])
      .default("install")
      .describe(
        "`install` the Argo Rollouts controller (pinned chart) with the stack, or attach to an `existing` one (its CRDs must be installed).",
      ),
    controllerNamespace: dnsLabel
      .default("argo-rollouts")
      .describe("Namespace of the Argo Rollouts controller (created in `install` mode)."),
  })
  .strict()
  .superRefine((d, ctx) => {
    for (let i = 1; i < d.canaryWeights.length; i++) {
      if (d.canaryWeights[i] <= d.canaryWeights[i - 1])
        ctx.addIssue({
          code: "custom",
          path: ["canaryWeights", i],
          message: `increasing weights (${d.canaryWeights[i]} after ${d.canaryWeights[i - 1]}): each step sends more traffic to the new version`,
        });
    }
  });

const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const host = z.string().regex(HOST, { error: 'a lower-case DNS name such as "models.example.com"' });
const acmArn = z.string().regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/, {
  error: 'an ACM certificate ARN "arn:aws:acm:<region>:<account>:certificate/<uuid>"',
});
const subnetId = z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { error: 'a subnet id such as "subnet-0123abcd"' });

/** Exposure through an ALB Ingress and a per-model OAuth2 Proxy (serving.exposure: "ingress"). */
export const servingIngressSchema = z
  .object({
    domain: host.describe("Each model is served at `https://<model>.<domain>/predict`; the certificate must cover `*.<domain>`."),
    certificateArn: acmArn.optional().describe("ACM certificate for `*.<domain>`; defaults to ingress.certificateArn."),
    scheme: z.enum(["internal", "internet-facing"]).default("internal").describe("Load balancer scheme."),
  })
  .strict();

/** Exposure through an API Gateway HTTP API (serving.exposure: "apiGateway"). */
export const apiGatewaySchema = z
  .object({
    domain: host.describe("Custom domain of the API: models are at `https://<domain>/<model>/predict`."),
    certificateArn: acmArn.describe("Regional ACM certificate for `domain`, in the stack's region and account."),
    certificateDomains: z
      .array(z.string().min(1))
      .min(1, { error: "at least one domain the certificate covers" })
      .optional()
      .describe(
        'Domains `certificateArn` covers ("api.example.com" or "*.example.com"); `domain` must match one. Default: ingress.certificateDomains when `certificateArn` is ingress.certificateArn (required otherwise).',
      ),
    route53ZoneId: z
      .string()
      .regex(/^Z[A-Z0-9]{1,31}$/, { error: 'a Route 53 hosted zone id such as "Z0123456789ABCDEFGHIJ"' })
      .optional()
      .describe(
        "Hosted zone of `domain`: the stack then creates the alias record to the API. Without it the record is yours (or ExternalDNS's): point `domain` at the stack output `model_api_dns_target`.",
      ),
    loadBalancerSubnetIds: z
      .array(subnetId)
      .min(2, { error: "at least two private subnets (two zones)" })
      .describe("Private subnets of the internal load balancer and the VPC link (their CIDRs must be in serving.gatewayCidrs)."),
    throttleRatePerSecond: num(1, 100_000, "throttleRatePerSecond", false)
      .default(100)
      .describe("Stage-wide steady request rate (all callers together)."),
    throttleBurst: num(1, 100_000, "throttleBurst").default(200).describe("Stage-wide burst."),
    routeThrottleRatePerSecond: num(1, 100_000, "routeThrottleRatePerSecond", false)
      .optional()
      .describe("Per-route steady rate (each model's routes); defaults to the stage's."),
    routeThrottleBurst: num(1, 100_000, "routeThrottleBurst").optional().describe("Per-route burst; defaults to the stage's."),
    logRetentionDays: z
      .union(
        [
          z.literal(1),
          z.literal(3),
          z.literal(5),
          z.literal(7),
          z.literal(14),
          z.literal(30),
          z.literal(60),
          z.literal(90),
          z.literal(180),
          z.literal(365),
          z.literal(400),
          z.literal(545),
          z.literal(731),
          z.literal(1827),
          z.literal(3653),
        ],
        { error: "a CloudWatch Logs retention: 1, 3, 5, 7, 14, 30, 60, 90, 180, 365, 400, 545, 731, 1827 or 3653" },
      )
      .default(90)
      .describe("Days the access logs are kept."),
    alarm5xxPerMinute: num(1, 1_000_000, "alarm5xxPerMinute")
      .default(5)
      .describe("5xx answers per minute (3 minutes in a row) that raise the alarm."),
    alarmP99LatencyMs: num(10, 30_000, "alarmP99LatencyMs")
      .default(1000)
      .describe("p99 latency in ms (3 minutes in a row) that raises the alarm."),
  })
  .strict();

export const servingSchema = z
  .object({
    namespace: dnsLabel.default("models").describe("Namespace of the model servers (restricted Pod Security)."),
    callerHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, { error: 'an HTTP header name such as "X-Caller-Id"' })
      .optional()
      .describe(
        "Header naming the authenticated caller; the gateway overwrites it from the verified token, and only the gateway path reaches the pods. Default: `X-Forwarded-Email` with the `ingress` exposure (what its OAuth2 Proxy sets), else `X-Caller-Id` (what the API Gateway integration sets).",
      ),
    exposure: z
      .enum(["none", "ingress", "apiGateway"])
      .default("none")
      .describe(
        "How applications reach the models: `apiGateway` (HTTP API, JWT authorizer on auth.issuerUrl, throttling, VPC link to an internal load balancer), `ingress` (ALB + an OAuth2 Proxy per model, bearer tokens of auth.issuerUrl), or `none` (in-cluster only, from gatewayCidrs / gatewayPodLabels).",
      ),
    ingress: servingIngressSchema.optional().describe("Required with exposure `ingress`."),
    apiGateway: apiGatewaySchema.optional().describe("Required with exposure `apiGateway`."),
    gatewayPodLabels: z
      .record(z.string(), z.string())
      .optional()
      .describe(
        "Labels of in-cluster pods (in `gatewayNamespace`) allowed to call the model servers, e.g. an authenticating proxy. Without it only `gatewayCidrs` get in.",
      ),
    gatewayNamespace: z.string().optional().describe("Namespace of `gatewayPodLabels`; defaults to mlflow.namespace."),
    gatewayCidrs: z
      .array(z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, { error: 'an IPv4 CIDR such as "10.0.0.0/16"' }))
      .default([])
      .describe(
        "Address ranges allowed to call the model servers: the subnets of the internal load balancer behind API Gateway's VPC link.",
      ),
    keepImages: num(1, 1000, "keepImages")
      .default(10)
      .describe(
        "Unreleased images kept per model repository in ECR: the release pipeline pushes by digest, untagged, and older untagged images expire. Released images carry a `release-v<version>-<digest>` tag that no lifecycle rule selects: they never expire (what a release pins and a rollback returns to).",
      ),
    expireTagPrefixes: z
      .record(
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { error: 'an image tag prefix such as "dev-"' }),
        num(1, 1000, "images kept"),
      )
      .default({})
      .describe(
        'Other image tags pushed to the model repositories by hand (e.g. { "dev-": 5 }): how many images of each prefix are kept. None may match a release tag (`release-...`).',
      ),
    models: z
      .record(z.string().regex(MODEL_NAME, { error: "a model name of lower-case letters, digits and '-' (at most 40)" }), servedModelSchema)
      .default({})
      .describe("The models this environment serves, by registered model name."),
    releases: z
      .record(z.string(), releaseSchema)
      .default({})
      .describe("Released version and image digest per model; from config/releases/<env>.json."),
    delivery: deliverySchema
      .prefault({})
      .describe("How a new release reaches traffic: blue-green (default) or canary with Argo Rollouts, or a plain rolling update."),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.exposure === "ingress" && !s.ingress)
      ctx.addIssue({
        code: "custom",
        path: ["ingress"],
        message: 'the models\' domain when serving.exposure is "ingress", such as { domain: "models.example.com" }',
      });
    if (s.exposure === "apiGateway" && !s.apiGateway)
      ctx.addIssue({
        code: "custom",
        path: ["apiGateway"],
        message:
          'the API\'s domain, certificate and subnets when serving.exposure is "apiGateway", such as { domain: "api.example.com", certificateArn: "arn:aws:acm:...", loadBalancerSubnetIds: ["subnet-...", "subnet-..."] }',
      });
    if (s.exposure !== "ingress" && s.ingress)
      ctx.addIssue({ code: "custom", path: ["ingress"], message: `nothing unless serving.exposure is "ingress" (it is "${s.exposure}")` });
    if (s.exposure !== "apiGateway" && s.apiGateway)
      ctx.addIssue({
        code: "custom",
        path: ["apiGateway"],
        message: `nothing unless serving.exposure is "apiGateway" (it is "${s.exposure}")`,
      });
    if (s.exposure === "ingress" && s.callerHeader && !/^x-forwarded-(email|user)$/i.test(s.callerHeader)) {
      ctx.addIssue({
        code: "custom",
        path: ["callerHeader"],
        message: `X-Forwarded-Email or X-Forwarded-User with exposure "ingress" (the headers its OAuth2 Proxy overwrites from the token; "${s.callerHeader}" would pass through unchecked)`,
      });
    }
    if (s.exposure === "apiGateway" && s.gatewayCidrs.length === 0)
      ctx.addIssue({
        code: "custom",
        path: ["gatewayCidrs"],
        message:
          "the CIDRs of apiGateway.loadBalancerSubnetIds (the internal load balancer sends from there; the model's NetworkPolicy admits only them)",
      });
    for (const prefix of Object.keys(s.expireTagPrefixes)) {
      const overlap = releaseTagOverlap(prefix);
      if (overlap) ctx.addIssue({ code: "custom", path: ["expireTagPrefixes", prefix], message: overlap });
    }
    for (const name of Object.keys(s.releases)) {
      if (!(name in s.models))
        ctx.addIssue({
          code: "custom",
          path: ["releases", name],
          message: `a model declared in serving.models (add "${name}" there, or remove its release)`,
        });
    }
    for (const [name, m] of Object.entries(s.models)) {
      if (m.replicas.max < m.replicas.min)
        ctx.addIssue({ code: "custom", path: ["models", name, "replicas", "max"], message: `at least replicas.min (${m.replicas.min})` });
      if (s.delivery.strategy !== "rollingUpdate" && name in s.releases && !m.smokeTest) {
        ctx.addIssue({
          code: "custom",
          path: ["models", name, "smokeTest"],
          message: `the request the ${s.delivery.strategy} release sends to the new version first, such as { row: [5.1, 3.5, 1.4, 0.2], expectLabel: "setosa" } (or set serving.delivery.strategy: "rollingUpdate")`,
        });
      }
      if (m.smokeTest?.expectLabel && !m.classNames.includes(m.smokeTest.expectLabel)) {
        ctx.addIssue({
          code: "custom",
          path: ["models", name, "smokeTest", "expectLabel"],
          message: `one of classNames (${m.classNames.join(", ") || "none configured"})`,
        });
      }
      inferenceProblems(m, (path, message) => ctx.addIssue({ code: "custom", path: ["models", name, ...path], message }));
    }
  });

export type ServingConfig = z.infer<typeof servingSchema>;
export type DeliveryConfig = z.infer<typeof deliverySchema>;
export type ServedModelConfig = z.infer<typeof servedModelSchema>;

/**
 * Checks of the serving section that need the rest of the environment (its region, account and the
 * tracking ingress's certificate): the API Gateway settings AWS refuses at deploy time, here at synth.
 */
export function servingProblems(env: {
  aws: { region: string; accountId: string };
  ingress: { certificateArn: string; certificateDomains: readonly string[] };
  serving: ServingConfig;
}): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const g = env.serving.exposure === "apiGateway" ? env.serving.apiGateway : undefined;
  if (!g) return out;
  const caller = env.serving.callerHeader;
  if (caller && isReservedHttpApiHeader(caller)) {
    out.push({
      path: ["serving", "callerHeader"],
      message: `a header API Gateway may set: ${caller} is one of the headers HTTP API parameter mapping may not touch (such as "X-Caller-Id")`,
    });
  }
  if (regionProblem(env.aws.region) === undefined && /^\d{12}$/.test(env.aws.accountId)) {
    const p = arnProblem(g.certificateArn, {
      what: "an ACM certificate",
      service: "acm",
      resource: /^certificate\/[0-9a-f-]{36}$/,
      example: "certificate/<uuid>",
      regional: true,
      partition: partitionOf(env.aws.region),
      region: {
        name: env.aws.region,
        why: `not the environment's region (${env.aws.region}): a regional API's custom domain can only use a certificate of its own region`,
      },
      account: {
        id: env.aws.accountId,
        why: `not aws.accountId (${env.aws.accountId}): API Gateway can only use certificates of its own account`,
      },
    });
    if (p) out.push({ path: ["serving", "apiGateway", "certificateArn"], message: p });
  }
  const sameCertificate = g.certificateArn === env.ingress.certificateArn;
  const domains = g.certificateDomains ?? (sameCertificate ? env.ingress.certificateDomains : undefined);
  if (!domains) {
    out.push({
      path: ["serving", "apiGateway", "certificateDomains"],
      message: `the domains serving.apiGateway.certificateArn covers (it is not ingress.certificateArn, whose ingress.certificateDomains would apply), such as ["${g.domain}"]`,
    });
  } else {
    const p = certificateCoverageProblem(
      domains,
      g.domain,
      g.certificateDomains
        ? "serving.apiGateway.certificateDomains"
        : "ingress.certificateDomains (the certificate is ingress.certificateArn)",
    );
    if (p) out.push({ path: ["serving", "apiGateway", "domain"], message: p });
  }
  return out;
}

/**
 * The stack installs the Argo Rollouts controller: a model is served with blue-green or canary delivery
 * and `serving.delivery.controller` is `install`. The stack, its NetworkPolicies and its monitoring read it here.
 */
export function installsRolloutsController(env: {
  readonly serving: Pick<z.output<typeof servingSchema>, "models" | "delivery">;
}): boolean {
  const d = env.serving.delivery;
  return Object.keys(env.serving.models).length > 0 && d.strategy !== "rollingUpdate" && d.controller === "install";
}
