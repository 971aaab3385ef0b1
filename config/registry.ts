/**
 * The `registry` section: promotion gates of the model registry (read by the registry tool,
 * `mlflow-platform registry`, through `registryGates()` below) and the retention of model versions
 * (the model-retention CronJob). See docs/model-registry.md.
 */
import { z } from "zod";
import { cronProblem } from "../constructs/core/aws-limits";
import { imageRef } from "./primitives";

/** A cron schedule Kubernetes accepts (the same check as mlflow.gc.schedule). */
const cronSchedule = z.string().superRefine((value, ctx) => {
  const problem = cronProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const TARGETS = ["staging", "production"] as const;
export type RegistryTarget = (typeof TARGETS)[number];

const metricGateSchema = z
  .object({
    metric: z
      .string()
      .min(1, { error: 'the name of a metric the training run logs, such as "accuracy"' })
      .describe("Metric logged by the version's run (its latest value is compared)."),
    threshold: z.number().optional().describe("Absolute threshold: the value must be >= it (<= when greaterIsBetter is false)."),
    greaterIsBetter: z.boolean().default(true).describe("Whether higher values are better (MLflow's MetricThreshold.greater_is_better)."),
    minAbsoluteChange: z
      .number()
      .positive({ error: 'a positive number (MLflow\'s MetricThreshold); use notWorseThanCurrent for "no worse"' })
      .optional()
      .describe("Must beat the version that holds the target alias now by at least this much (MetricThreshold.min_absolute_change)."),
    minRelativeChange: z
      .number()
      .gt(0, { error: "a fraction between 0 and 1" })
      .lt(1, { error: "a fraction between 0 and 1" })
      .optional()
      .describe("Must beat the current holder by at least this fraction of its value (MetricThreshold.min_relative_change)."),
    notWorseThanCurrent: z.boolean().default(false).describe("Must be at least as good as the current holder of the target alias."),
  })
  .strict()
  .refine(
    (m) => m.threshold !== undefined || m.minAbsoluteChange !== undefined || m.minRelativeChange !== undefined || m.notWorseThanCurrent,
    {
      error: "at least one of threshold, minAbsoluteChange, minRelativeChange or notWorseThanCurrent",
    },
  );

const gateSetSchema = z
  .object({
    metrics: z
      .array(metricGateSchema)
      .default([])
      .describe("Metric thresholds, absolute and relative to the current holder of the target alias."),
    requiredTags: z
      .record(z.string().min(1), z.string().min(1))
      .default({})
      .describe('Tags the model version must carry, e.g. {"validation": "passed"} ("*" = any value).'),
    requireSignature: z.boolean().optional().describe("The model must have a signature. Default: true."),
    requireInputExample: z
      .boolean()
      .optional()
      .describe("The model must have an input example. Default: true for production, false for staging."),
    approval: z
      .object({
        required: z.boolean().optional().describe("A second person must approve. Default: true for production, false for staging."),
        groups: z
          .array(z.string().min(1))
          .optional()
          .describe("Groups (token groups claim) whose members may approve. Default: registry.approverGroups."),
      })
      .strict()
      .default({})
      .describe("Manual approval by a member of an approvers group who neither registered nor requests the promotion."),
  })
  .strict();

export type GateSetInput = z.input<typeof gateSetSchema>;

const targetsSchema = z
  .object({
    staging: gateSetSchema.optional().describe("Gates before the alias `staging` and the stage Staging."),
    production: gateSetSchema.optional().describe("Gates before the alias `production` and the stage Production."),
  })
  .strict();

export const registrySchema = z
  .object({
    approverGroups: z
      .array(z.string().min(1))
      .default([])
      .describe("Groups (token groups claim) whose members may approve promotions, unless a gate names its own."),
    gates: targetsSchema.default({}).describe("Gates for every model, per target (staging, production)."),
    modelGates: z
      .record(z.string().min(1), targetsSchema)
      .default({})
      .describe("Per registered model: gate sets replacing the defaults of a target."),
    retention: z
      .object({
        keepVersions: z
          .number()
          .int({ error: "a whole number of at least 1" })
          .min(1, { error: "a whole number of at least 1 (N < 1 would archive every version)" })
          .default(5)
          .describe(
            "Keep the N newest versions of each registered model (plus every version holding an alias or the Staging or Production stage).",
          ),
        graceDays: z
          .number()
          .int()
          .min(1)
          .max(3650)
          .default(30)
          .describe("Days after being tagged for archival before the artifacts move to a colder storage class."),
        storageClass: z
          .enum(["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE", "STANDARD_IA"])
          .default("GLACIER_IR")
          .describe("Storage class archived artifacts move to."),
        deleteAfterDays: z
          .number()
          .int()
          .min(1)
          .max(36500)
          .optional()
          .describe("Delete archived artifacts this many days after tagging. Default: never (deletion only where configured)."),
        schedule: cronSchedule.default("15 4 * * *").describe("When the retention CronJob runs (cron, UTC)."),
        dryRun: z
          .boolean()
          .default(false)
          .describe("Run the CronJob with --dry-run: it lists what it would tag and changes nothing (a first deploy's safe start)."),
        image: imageRef('"ghcr.io/example-org/mlflow-platform-runtime:0.1.0"')
          .optional()
          .describe(
            "Image with the runtime package (`mlflow-platform`). Default: ghcr.io/example-org/mlflow-platform-runtime:0.1.0 (a placeholder: build images/runtime and push it).",
          ),
        servedVersions: z
          .array(z.string().regex(/^[^/]+\/\d+$/, { error: '"<model>/<version>"' }))
          .default([])
          .describe('Versions served by an endpoint ("<model>/<version>"): always kept.'),
        exceptions: z
          .record(
            z.string().min(1),
            z
              .object({
                keepVersions: z.number().int().min(1, { error: "a whole number of at least 1" }).optional().describe("This model's N."),
                skip: z.boolean().default(false).describe("Never archive any version of this model."),
              })
              .strict(),
          )
          .default({})
          .describe("Per registered model: another N, or no archival at all."),
      })
      .strict()
      .default({
        keepVersions: 5,
        graceDays: 30,
        storageClass: "GLACIER_IR",
        schedule: "15 4 * * *",
        dryRun: false,
        servedVersions: [],
        exceptions: {},
      })
      .describe("The retention job: which model versions keep their artifacts in the hot storage class."),
  })
  .strict()
  .superRefine((r, ctx) => {
    const sets: [string[], z.output<typeof gateSetSchema> | undefined, RegistryTarget][] = [];
    for (const t of TARGETS) sets.push([["gates", t], r.gates[t], t]);
    for (const [model, per] of Object.entries(r.modelGates)) for (const t of TARGETS) sets.push([["modelGates", model, t], per[t], t]);
    for (const [path, set, target] of sets) {
      const required = set?.approval.required ?? target === "production";
      const groups = set?.approval.groups ?? r.approverGroups;
      if (required && groups.length === 0) {
        ctx.addIssue({
          code: "custom",
          path: set?.approval.groups ? [...path, "approval", "groups"] : ["approverGroups"],
          message: `at least one approvers group: ${path.join(".")} requires an approval (set registry.approverGroups, or approval.required: false)`,
        });
      }
    }
  });

export type RegistryConfig = z.output<typeof registrySchema>;

/** One gate set in the form the registry tool reads (every field explicit). */
function render(set: z.output<typeof gateSetSchema> | undefined, target: RegistryTarget, approverGroups: string[]) {
  return {
    metrics: (set?.metrics ?? []).map((m) => ({
      metric: m.metric,
      threshold: m.threshold ?? null,
      greaterIsBetter: m.greaterIsBetter,
      minAbsoluteChange: m.minAbsoluteChange ?? null,
      minRelativeChange: m.minRelativeChange ?? null,
      notWorseThanCurrent: m.notWorseThanCurrent,
    })),
    requiredTags: { ...(set?.requiredTags ?? {}) },
    requireSignature: set?.requireSignature ?? true,
    requireInputExample: set?.requireInputExample ?? target === "production",
    approval: { required: set?.approval.required ?? target === "production", groups: set?.approval.groups ?? approverGroups },
  };
}

/**
 * The gate definitions the registry tool reads (`--gates FILE` / MLFLOW_PLATFORM_REGISTRY_GATES),
 * rendered from configuration: `npm run build && node dist/scripts/registry-gates.js <env>`.
 */
export function registryGates(registry: RegistryConfig) {
  return {
    format: 1,
    targets: [...TARGETS],
    defaults: Object.fromEntries(TARGETS.map((t) => [t, render(registry.gates[t], t, registry.approverGroups)])),
    models: Object.fromEntries(
      Object.entries(registry.modelGates).map(([model, per]) => [
        model,
        Object.fromEntries(TARGETS.filter((t) => per[t] !== undefined).map((t) => [t, render(per[t], t, registry.approverGroups)])),
      ]),
    ),
  };
}
