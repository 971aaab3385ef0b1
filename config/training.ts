/**
 * The `training` section: reproducible training on the cluster. Argo Workflows (installed by
 * the stack from a pinned chart, or attached where one already runs), the training pipeline as a
 * WorkflowTemplate and, with a schedule, a CronWorkflow: train, evaluate against the version holding
 * `production`, register, run the registry gates, tag `production-ready`. See docs/training-pipelines.md.
 *
 * The cross-section rules (the model name is one the registry or serving configuration knows, the
 * namespaces differ) are in {@link trainingProblems}, called from config/schema.ts.
 */
import { z } from "zod";
import { cronProblem } from "../constructs/core/aws-limits";
import { cpuProblem, memoryProblem, parseCpu, parseMemory } from "../constructs/core/quantity";
import { dnsLabel, hostname, imageRef } from "./primitives";

/** The Argo Workflows release the CRDs of test/kube match (v3.7.3 = chart argo-workflows 0.45.27). */
export const ARGO_WORKFLOWS_APP_VERSION = "v3.7.3";
export const ARGO_WORKFLOWS_CHART_VERSION = "0.45.27";

/** The steps of the training pipeline, in order (each gets its own resources). */
export const TRAINING_STEPS = ["train", "evaluate", "register", "gates", "tag"] as const;
export type TrainingStep = (typeof TRAINING_STEPS)[number];

const rule = (problem: (value: string) => string | undefined) =>
  z.string({ error: "a string" }).superRefine((value, ctx) => {
    const p = problem(value);
    if (p) ctx.addIssue({ code: "custom", message: p });
  });

const stepResourcesSchema = z
  .object({
    requests: z
      .object({
        cpu: rule(cpuProblem).describe("CPU request of the step's container."),
        memory: rule(memoryProblem).describe("Memory request of the step's container."),
      })
      .strict(),
    limits: z
      .object({
        cpu: rule(cpuProblem).optional().describe("CPU limit (unset: no throttling)."),
        memory: rule(memoryProblem).describe("Memory limit (at least the request)."),
      })
      .strict(),
  })
  .strict();

const stepSchema = z
  .object({
    resources: stepResourcesSchema.describe(
      "Requests and limits of the step's main container (required: Argo schedules every step as its own pod).",
    ),
  })
  .strict();

export const trainingSchema = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe("Run training pipelines on the cluster (Argo Workflows, the training WorkflowTemplate, its service accounts and role)."),
    namespace: dnsLabel.default("ml-pipelines").describe("Namespace of the workflows (restricted Pod Security); the stack creates it."),
    argo: z
      .object({
        mode: z
          .enum(["install", "existing"], {
            error: '"install" (the stack installs Argo Workflows) or "existing" (one already runs on the cluster)',
          })
          .default("install")
          .describe(
            "`install`: the stack installs Argo Workflows from the pinned chart; `existing`: one runs already (same major version) and watches `training.namespace`.",
          ),
        namespace: dnsLabel.default("argo").describe("Namespace of Argo's controller and server (created in install mode)."),
        chartVersion: z
          .literal(ARGO_WORKFLOWS_CHART_VERSION, {
            error: `chart version ${ARGO_WORKFLOWS_CHART_VERSION} (Argo Workflows ${ARGO_WORKFLOWS_APP_VERSION}, the version whose CRDs the tests validate against)`,
          })
          .default(ARGO_WORKFLOWS_CHART_VERSION)
          .describe(
            `The argo-workflows chart (argoproj/argo-helm) version; pinned to ${ARGO_WORKFLOWS_CHART_VERSION} = Argo Workflows ${ARGO_WORKFLOWS_APP_VERSION}.`,
          ),
        uiHostname: hostname('"argo.example.com"')
          .optional()
          .describe(
            "Public name of the Argo UI (its SSO redirect is https://<uiHostname>/oauth2/callback). Without it the UI is reachable only by port-forward, still behind SSO.",
          ),
        ssoClientId: z
          .string()
          .min(1)
          .optional()
          .describe(
            'OIDC client of the Argo UI at auth.issuerUrl (default: auth.clientId + "-argo"); register https://<uiHostname>/oauth2/callback.',
          ),
        ssoSecretName: dnsLabel
          .default("argo-server-sso")
          .describe(
            "Secret in argo.namespace with keys client-id and client-secret of that client (created by an operator; never in code).",
          ),
      })
      .strict()
      .prefault({})
      .describe("Argo Workflows: installed (pinned) or attached, its UI signed in through auth.issuerUrl."),
    image: imageRef('"ghcr.io/example-org/mlflow-training:1.0.0"')
      .default("ghcr.io/example-org/mlflow-training:0.1.0")
      .describe(
        "The training image (images/training: examples/ plus the MLflow client at mlflow.version and the runtime package). Default is a placeholder: build and push it.",
      ),
    modelName: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, { error: 'a registered model name such as "iris-classifier"' })
      .default("iris-classifier")
      .describe(
        "The registered model the pipeline trains; it must be one the configuration knows (serving.models or registry.modelGates).",
      ),
    experiment: z.string().min(1).optional().describe("MLflow experiment of the runs (default: the model name)."),
    team: dnsLabel
      .optional()
      .describe(
        "With teams: the team whose MLflow workspace the pipeline logs to and registers in (required when teams are set). The pipeline's identity gets EDIT there (the team's defaultPermission when higher) and nothing in any other workspace.",
      ),
    parameters: z
      .record(z.string().regex(/^[a-z][a-z0-9_]*$/, { error: "a parameter name of lower-case letters, digits and '_'" }), z.string())
      .default({ lr: "0.05", batch_size: "16", epochs: "30" })
      .describe(
        "Training parameters (MLproject `train` entry point) and their defaults; each is a workflow parameter a submitter may override.",
      ),
    schedule: rule(cronProblem)
      .optional()
      .describe("Scheduled retraining (cron, UTC): a CronWorkflow submits the pipeline. Without it, only manual submissions."),
    target: z
      .enum(["production", "staging"])
      .default("production")
      .describe("The alias the candidate is evaluated against and whose automated gates it must pass before the tag."),
    readyTag: z
      .string()
      .min(1)
      .default("production-ready")
      .describe(
        "Model-version tag set when the gates pass: the registry events service (events.watchedTags) hands over to the release pipeline.",
      ),
    stepDeadlineSeconds: z
      .number()
      .int({ error: "a whole number of seconds from 60 to 86400" })
      .min(60, { error: "a whole number of seconds from 60 to 86400" })
      .max(86400, { error: "a whole number of seconds from 60 to 86400" })
      .default(7200)
      .describe("Deadline of each step; the step's MLflow token (a projected service-account token) lives exactly this long."),
    identity: z
      .object({
        issuerUrl: z
          .url({ protocol: /^https?$/, error: 'the cluster\'s OIDC issuer URL, e.g. "https://oidc.eks.eu-west-1.amazonaws.com/id/<id>"' })
          .describe(
            "The cluster's service-account token issuer (`aws eks describe-cluster --query cluster.identity.oidc.issuer`); the proxy accepts its tokens for the audience below.",
          ),
        audience: z
          .string()
          .regex(/^[a-z0-9][a-z0-9.:-]{2,99}$/, { error: 'a dedicated audience such as "mlflow-pipelines"' })
          .default("mlflow-pipelines")
          .describe("Audience of the projected tokens; dedicated to MLflow (never the API server's or sts.amazonaws.com)."),
      })
      .strict()
      .optional()
      .describe(
        "Pipeline identity without a static secret: projected service-account tokens of the cluster's issuer. Required when training is enabled.",
      ),
    steps: z
      .object(
        Object.fromEntries(TRAINING_STEPS.map((s) => [s, stepSchema.describe(`The ${s} step.`)])) as Record<
          TrainingStep,
          typeof stepSchema
        >,
        {
          error: `every step of the pipeline (${TRAINING_STEPS.join(", ")}) with its resources`,
        },
      )
      .strict()
      .optional()
      .describe("Resources of each pipeline step (every step must have them). Required when training is enabled."),
  })
  .strict()
  .prefault({})
  .describe("Training pipelines on Argo Workflows (docs/training-pipelines.md).");

export type TrainingConfig = z.output<typeof trainingSchema>;

/** What the environment's other sections must agree with; the paths are under the environment. */
export function trainingProblems(env: {
  training: TrainingConfig;
  serving: { models: Record<string, unknown> };
  registry: { modelGates: Record<string, unknown> };
  mlflow: { namespace: string };
  monitoring: { namespace: string };
  auth: { localTestProfile: boolean };
}): { path: (string | number)[]; message: string }[] {
  const t = env.training;
  const out: { path: (string | number)[]; message: string }[] = [];
  if (!t.enabled) return out;
  const known = [...new Set([...Object.keys(env.serving.models), ...Object.keys(env.registry.modelGates)])];
  if (!known.includes(t.modelName)) {
    out.push({
      path: ["training", "modelName"],
      message: `a model the configuration knows (${known.length ? known.map((k) => `"${k}"`).join(", ") : "none yet"}): declare "${t.modelName}" in serving.models or registry.modelGates, or train one of those`,
    });
  }
  if (!t.identity) {
    out.push({
      path: ["training", "identity"],
      message:
        "the cluster's OIDC issuer ({ issuerUrl }) when training is enabled: workflow pods authenticate to MLflow with its projected tokens",
    });
  } else if (!env.auth.localTestProfile && !t.identity.issuerUrl.startsWith("https://")) {
    out.push({ path: ["training", "identity", "issuerUrl"], message: "an https:// issuer URL" });
  }
  if (!t.steps) {
    out.push({ path: ["training", "steps"], message: `resources for every step (${TRAINING_STEPS.join(", ")}) when training is enabled` });
  } else {
    for (const s of TRAINING_STEPS) {
      const r = t.steps[s].resources;
      const mem = [parseMemory(r.requests.memory), parseMemory(r.limits.memory)];
      if (mem[0] !== undefined && mem[1] !== undefined && mem[1] < mem[0])
        out.push({
          path: ["training", "steps", s, "resources", "limits", "memory"],
          message: `at least the memory request (${r.requests.memory})`,
        });
      if (r.limits.cpu !== undefined) {
        const cpu = [parseCpu(r.requests.cpu), parseCpu(r.limits.cpu)];
        if (cpu[0] !== undefined && cpu[1] !== undefined && cpu[1] < cpu[0])
          out.push({
            path: ["training", "steps", s, "resources", "limits", "cpu"],
            message: `at least the CPU request (${r.requests.cpu})`,
          });
      }
    }
  }
  if (t.argo.mode === "install" && !t.argo.uiHostname) {
    out.push({
      path: ["training", "argo", "uiHostname"],
      message:
        'the Argo UI\'s public name when argo.mode is "install": its SSO sign-in (through auth.issuerUrl) redirects to https://<uiHostname>/oauth2/callback',
    });
  }
  const taken: [string, string][] = [
    ["mlflow.namespace", env.mlflow.namespace],
    ["monitoring.namespace", env.monitoring.namespace],
  ];
  for (const [field, ns] of taken) {
    if (t.namespace === ns)
      out.push({
        path: ["training", "namespace"],
        message: `a namespace of its own, not "${ns}" (${field}): workflow pods get their own service accounts and policies`,
      });
    if (t.argo.mode === "install" && t.argo.namespace === ns)
      out.push({ path: ["training", "argo", "namespace"], message: `a namespace of its own, not "${ns}" (${field})` });
  }
  if (t.argo.namespace === t.namespace)
    out.push({
      path: ["training", "argo", "namespace"],
      message: `a namespace other than training.namespace ("${t.namespace}"): the controller and server are not workflow pods`,
    });
  if (/^(kube-|default$)/.test(t.namespace))
    out.push({ path: ["training", "namespace"], message: `a namespace of its own, not "${t.namespace}" (reserved)` });
  return out;
}
