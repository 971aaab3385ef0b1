/**
 * Inference observability of a served model: its input fields, input/output logging with
 * obfuscation rules, and scheduled drift detection. Part of `serving.models.<model>` (config/serving.ts).
 *
 * Kept in its own file so the serving section's schema only gains three keys.
 */
import { z } from "zod";

import { INFERENCE_LOG_PREFIX, REDACT_PATTERNS, RULE_KINDS } from "../constructs/core/inference-log";

export { INFERENCE_LOG_PREFIX, REDACT_PATTERNS, RULE_KINDS };

const FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const fieldName = z.string().regex(FIELD, { error: "a field name of letters, digits and '_' (at most 64, not starting with a digit)" });
const number = (what: string) => z.number({ error: `${what}: a number` });

export const obfuscationRuleSchema = z
  .object({
    field: fieldName.describe("The field the rule applies to: one of the model's inputFields or the log's contextFields."),
    kind: z.string().describe(`What happens to it: ${RULE_KINDS.join(", ")} (see docs/inference-observability.md).`),
    step: number("step")
      .positive({ error: "step: a number above 0" })
      .optional()
      .describe("coarsen: the bucket width (37 with step 10 is logged as 30)."),
    keepLast: z
      .number({ error: "keepLast: a whole number from 0 to 64" })
      .int({ error: "keepLast: a whole number from 0 to 64" })
      .min(0)
      .max(64)
      .optional()
      .describe("mask: characters left visible at the end (default 4)."),
    patterns: z
      .array(z.enum(REDACT_PATTERNS, { error: `one of ${REDACT_PATTERNS.join(", ")}` }))
      .optional()
      .describe(`redact: what to replace in free text (default all: ${REDACT_PATTERNS.join(", ")}).`),
  })
  .strict();

export const inferenceLogSchema = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        "Log sampled inputs and outputs to the artifact bucket's inference-log prefix (the server then gets an IAM role that may only PutObject there).",
      ),
    sampling: z
      .number({ error: "a share of requests: a number from 0 to 1" })
      .min(0, { error: "a share of requests: a number from 0 to 1" })
      .max(1, { error: "a share of requests: a number from 0 to 1" })
      .default(1)
      .describe("Share of successful prediction requests logged (0 to 1)."),
    contextFields: z
      .array(fieldName)
      .default([])
      .describe(
        'Request fields beside the features (`{"data": ..., "context": {...}}`) that are logged, under the rules; any other field is never logged.',
      ),
    rules: z.array(obfuscationRuleSchema).default([]).describe("Obfuscation rules, applied in the server before a record leaves it."),
    expireDays: z
      .number({ error: "days: a whole number from 1 to 3650" })
      .int({ error: "days: a whole number from 1 to 3650" })
      .min(1, { error: "days: a whole number from 1 to 3650" })
      .max(3650, { error: "days: a whole number from 1 to 3650" })
      .default(30)
      .describe("Days logged records are kept (an S3 lifecycle rule on the model's log prefix)."),
    batchRecords: z.number().int().min(1).max(100_000).default(1000).describe("Records per written object at most."),
    flushSeconds: z.number().int().min(1).max(3600).default(10).describe("Seconds a record waits at most before its batch is written."),
  })
  .strict();

export const driftSchema = z
  .object({
    enabled: z.boolean().default(true).describe("Run the scheduled drift job (needs inferenceLog.enabled and a release)."),
    schedule: z
      .string()
      .regex(/^(\S+\s+){4}\S+$/, { error: 'a five-field cron schedule such as "30 2 * * *"' })
      .default("30 2 * * *")
      .describe("When the drift job runs (UTC)."),
    windowHours: z
      .number({ error: "hours: a number from 1 to 720" })
      .min(1, { error: "hours: a number from 1 to 720" })
      .max(720, { error: "hours: a number from 1 to 720" })
      .default(24)
      .describe("The window of logged inputs each run compares with the training reference."),
    psiThreshold: z
      .number({ error: "a number above 0, such as 0.2" })
      .positive({ error: "a number above 0, such as 0.2" })
      .default(0.2)
      .describe(
        "Population stability index from which a feature counts as drifted (with the KS test below); also the continuous alert's threshold.",
      ),
    pValue: z
      .number({ error: "a probability: a number between 0 and 1, such as 0.01" })
      .gt(0, { error: "a probability: a number between 0 and 1, such as 0.01" })
      .lt(1, { error: "a probability: a number between 0 and 1, such as 0.01" })
      .default(0.01)
      .describe("Significance level of the two-sample Kolmogorov-Smirnov test."),
    minRecords: z.number().int().min(1).default(50).describe("Fewer logged rows in the window: reported, not compared."),
  })
  .strict();

export type InferenceLogConfig = z.infer<typeof inferenceLogSchema>;
export type DriftConfig = z.infer<typeof driftSchema>;

/** Cross-field checks of one served model (called from config/serving.ts's superRefine). */
export function inferenceProblems(
  m: { inputFields: string[]; inferenceLog: InferenceLogConfig },
  report: (path: (string | number)[], message: string) => void,
): void {
  const log = m.inferenceLog;
  const declared = new Set([...m.inputFields, ...log.contextFields]);
  for (const f of log.contextFields) {
    if (m.inputFields.includes(f))
      report(["inferenceLog", "contextFields"], `a field that is not also an input field ("${f}" is in inputFields)`);
  }
  const seen = new Set<string>();
  log.rules.forEach((r, i) => {
    if (!(RULE_KINDS as readonly string[]).includes(r.kind)) {
      report(["inferenceLog", "rules", i, "kind"], `one of ${RULE_KINDS.join(", ")}`);
    }
    if (!declared.has(r.field)) {
      report(
        ["inferenceLog", "rules", i, "field"],
        m.inputFields.length === 0 && log.contextFields.length === 0
          ? "a field of the model: declare the model's inputs in inputFields (and request fields in inferenceLog.contextFields) first"
          : `a field of the model: one of ${[...declared].join(", ")} (add it to inputFields or inferenceLog.contextFields if the model has it)`,
      );
    }
    if (seen.has(r.field)) report(["inferenceLog", "rules", i, "field"], `one rule per field ("${r.field}" has an earlier rule)`);
    seen.add(r.field);
    if (r.kind === "coarsen" && r.step === undefined)
      report(["inferenceLog", "rules", i, "step"], "a bucket width for coarsen, such as 10");
    if (r.kind !== "coarsen" && r.step !== undefined) report(["inferenceLog", "rules", i, "step"], "only with kind coarsen");
    if (r.kind !== "mask" && r.keepLast !== undefined) report(["inferenceLog", "rules", i, "keepLast"], "only with kind mask");
    if (r.kind !== "redact" && r.patterns !== undefined) report(["inferenceLog", "rules", i, "patterns"], "only with kind redact");
  });
  if (log.enabled && m.inputFields.length === 0) {
    report(["inputFields"], "the model's input fields, in order, when inferenceLog.enabled (records and drift name features by them)");
  }
}
