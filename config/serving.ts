/**
 * The `serving` section: the models an environment serves as REST microservices (issue 13).
 *
 * What a model is (its limits, sizes, labels) lives in `config/environments.ts` (`serving.models`);
 * which version is released, with which image digest, lives in `config/releases/<env>.json`, the one file
 * a release pipeline changes and a reviewer reads (`serving.releases`). A model without a release gets its
 * ECR repository only (the first image needs somewhere to be pushed before a digest exists).
 */
import { z } from "zod";
import { CPU_PATTERN, MEMORY_PATTERN } from "./quantity";
import { driftSchema, inferenceLogSchema, inferenceProblems } from "./inference";

const MODEL_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
const num = (min: number, max: number, what: string, integer = true) => {
  const msg = `${what}: a ${integer ? "whole number" : "number"} from ${min} to ${max}`;
  const base = z.number({ error: msg }).min(min, { error: msg }).max(max, { error: msg });
  return integer ? base.int({ error: msg }) : base;
};
const cpu = z.string().regex(CPU_PATTERN, { error: "a Kubernetes CPU quantity such as \"250m\" or \"1\"" });
const memory = z.string().regex(MEMORY_PATTERN, { error: "a Kubernetes memory quantity such as \"512Mi\" or \"2Gi\"" });

export const servedModelSchema = z.object({
  replicas: z.object({
    min: num(1, 100, "replicas").default(2).describe("Lowest replica count (HorizontalPodAutoscaler minReplicas)."),
    max: num(1, 100, "replicas").default(4).describe("Highest replica count (HorizontalPodAutoscaler maxReplicas)."),
  }).strict().default({ min: 2, max: 4 }).describe("Replica range; the HPA scales on CPU between them."),
  resources: z.object({
    requests: z.object({ cpu: cpu.describe("CPU request."), memory: memory.describe("Memory request.") }).strict(),
    limits: z.object({ memory: memory.describe("Memory limit."), cpu: cpu.optional().describe("CPU limit (unset: no throttling).") }).strict(),
  }).strict().default({ requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } }).describe("Container resources of the model server."),
  maxConcurrency: num(1, 256, "maxConcurrency").default(8).describe("Requests one pod works on at once; more get 429 with Retry-After."),
  maxBodyBytes: num(1024, 64 * 1024 * 1024, "maxBodyBytes").default(1_048_576).describe("Largest request body; larger gets 413."),
  callerRate: num(0.1, 100_000, "callerRate", false).default(50).describe("Requests per second per authenticated caller, per pod, on average; more get 429."),
  callerBurst: num(1, 100_000, "callerBurst").default(100).describe("Burst per caller, per pod."),
  requestTimeoutSeconds: num(1, 300, "requestTimeoutSeconds").default(30).describe("Deadline of a request body and of a prediction (408/504 after)."),
  classNames: z.array(z.string().min(1)).default([]).describe("Names of the classes, in the model's order; /predict then answers labels too."),
  // Inference observability (issue 14, config/inference.ts).
  inputFields: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, { error: "a field name of letters, digits and '_'" })).default([])
    .describe("Names of the model's input features, in order: logged records, metrics and drift name features by them; obfuscation rules may only name these and inferenceLog.contextFields."),
  inferenceLog: inferenceLogSchema.prefault({}).describe("Input/output logging with obfuscation (docs/inference-observability.md)."),
  drift: driftSchema.prefault({}).describe("Scheduled drift detection against the training reference, and the continuous PSI alert's threshold."),
}).strict();

export const releaseSchema = z.object({
  version: z.string().regex(/^[1-9]\d*$/, { error: "a registered model version number such as \"3\"" }).describe("The registered model version the image was built from."),
  imageDigest: z.string().regex(/^sha256:[a-f0-9]{64}$/, { error: "an image digest \"sha256:<64 hex>\" (the pushed image's, never a tag)" })
    .describe("Digest of the image in the model's ECR repository; pods run exactly these bytes."),
}).strict();

export const servingSchema = z.object({
  namespace: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { error: "a DNS label" }).default("models").describe("Namespace of the model servers (restricted Pod Security)."),
  callerHeader: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, { error: "an HTTP header name such as \"X-Caller-Id\"" }).default("X-Caller-Id")
    .describe("Header naming the authenticated caller; the gateway overwrites it from the verified token, and only the gateway path reaches the pods."),
  gatewayPodLabels: z.record(z.string(), z.string()).optional()
    .describe("Labels of in-cluster pods (in `gatewayNamespace`) allowed to call the model servers, e.g. an authenticating proxy. Without it only `gatewayCidrs` get in."),
  gatewayNamespace: z.string().optional().describe("Namespace of `gatewayPodLabels`; defaults to mlflow.namespace."),
  gatewayCidrs: z.array(z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, { error: "an IPv4 CIDR such as \"10.0.0.0/16\"" })).default([])
    .describe("Address ranges allowed to call the model servers: the subnets of the internal load balancer behind API Gateway's VPC link."),
  keepImages: num(1, 1000, "keepImages").default(10).describe("Images kept per model repository in ECR (older ones expire)."),
  models: z.record(z.string().regex(MODEL_NAME, { error: "a model name of lower-case letters, digits and '-' (at most 40)" }), servedModelSchema).default({})
    .describe("The models this environment serves, by registered model name."),
  releases: z.record(z.string(), releaseSchema).default({}).describe("Released version and image digest per model; from config/releases/<env>.json."),
}).strict().superRefine((s, ctx) => {
  for (const name of Object.keys(s.releases)) {
    if (!(name in s.models)) ctx.addIssue({ code: "custom", path: ["releases", name], message: `a model declared in serving.models (add "${name}" there, or remove its release)` });
  }
  for (const [name, m] of Object.entries(s.models)) {
    if (m.replicas.max < m.replicas.min) ctx.addIssue({ code: "custom", path: ["models", name, "replicas", "max"], message: `at least replicas.min (${m.replicas.min})` });
    inferenceProblems(m, (path, message) => ctx.addIssue({ code: "custom", path: ["models", name, ...path], message }));
  }
});

export type ServingConfig = z.infer<typeof servingSchema>;
export type ServedModelConfig = z.infer<typeof servedModelSchema>;
