/**
 * Renders a Terraform plan as the Markdown the pull-request comment and the job summaries show, from
 * `terraform show -json <planfile>` (Terraform's documented JSON plan format: `resource_changes[].change.actions`,
 * `resource_drift`, `output_changes`), or from the plan's log when the plan failed and left no file.
 *
 *   node dist/scripts/ci/plan-summary.js --env dev --exitcode 2 --plan plan.json [--log plan.log] \
 *     [--stack-json cdktf.out/stacks/<stack>/cdk.tf.json] [--administered-out dev.administered] > dev.md
 *
 * Exit code: 0 when the plan succeeded (with or without changes), 1 when it failed: the workflow's
 * check fails on a failed plan. Only addresses and actions are printed, never attribute values (a plan
 * holds secrets in clear text).
 *
 * Changes only an administrator may apply (the CI roles and their policies, the workload boundary, GitHub's
 * OIDC provider: what the bootstrap applies, tagged `mlflow-platform/administered-by: bootstrap`) are flagged:
 * the deploy role is denied them, so applying such a plan fails with AccessDenied halfway. They are found
 * from the synthesized stack (`--stack-json`, policies/iam/administered.ts) and from the plan itself (the
 * tag in a resource's values before or after, and the policies of a role carrying it: what a plan deletes
 * is no longer in the stack). `--administered-out` writes their addresses, one per line (nothing when
 * there are none), for the apply jobs to stop on before
 * applying anything (deploy.yml's apply, scripts/ci/release-apply.sh).
 */
import * as fs from "fs";
import { ADMINISTERED_BY_BOOTSTRAP, ADMINISTERED_BY_TAG } from "../../constructs/ci-roles";
import { administeredBy } from "../../policies/iam/administered";
import type { StackJson } from "../../policies/iam/instances";

/** Terraform's change actions (JSON plan format). */
type Action = "no-op" | "create" | "read" | "update" | "delete";

interface ResourceChange {
  readonly address: string;
  readonly mode?: "managed" | "data";
  readonly type?: string;
  readonly previous_address?: string;
  readonly action_reason?: string;
  readonly change: { readonly actions: Action[]; readonly importing?: unknown; readonly before?: unknown; readonly after?: unknown };
}

/** The parts of `terraform show -json` this summary reads. */
export interface PlanJson {
  readonly format_version?: string;
  readonly terraform_version?: string;
  readonly resource_changes?: ResourceChange[];
  readonly resource_drift?: ResourceChange[];
  readonly output_changes?: Record<string, { actions: Action[] }>;
  readonly errored?: boolean;
}

export type ChangeKind = "create" | "update" | "replace" | "delete" | "import" | "move" | "read";

export interface PlanCounts {
  add: number;
  change: number;
  destroy: number;
  import: number;
  move: number;
}

export interface PlanSummary {
  readonly env: string;
  readonly status: "changes" | "no-changes" | "failed";
  readonly counts: PlanCounts;
  readonly changes: { address: string; kind: ChangeKind }[];
  /** Resources changed outside Terraform since the last apply. */
  readonly drift: { address: string; kind: ChangeKind }[];
  /** Of `changes`, those only an administrator may apply (`npm run bootstrap -- <env>`): the deploy role is denied them. */
  readonly administered: { address: string; kind: ChangeKind }[];
  readonly error?: string;
}

const IAM_ROLE_POLICY_TYPES = new Set([
  "aws_iam_role_policy",
  "aws_iam_role_policy_attachment",
  "aws_iam_role_policies_exclusive",
  "aws_iam_role_policy_attachments_exclusive",
]);

/** A resource's values (before or after the change) as an object, or undefined. */
const valuesOf = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === "object" ? (v as Record<string, unknown>) : undefined;

/** True when the values carry the bootstrap's tag (in `tags` or, with the provider's default tags, `tags_all`). */
function taggedAdministered(values: Record<string, unknown> | undefined): boolean {
  return ["tags", "tags_all"].some((k) => valuesOf(values?.[k])?.[ADMINISTERED_BY_TAG] === ADMINISTERED_BY_BOOTSTRAP);
}

/**
 * The addresses of the plan's administered resources: those `known` names (from the synthesized stack),
 * those whose values before or after carry the bootstrap's tag, and the inline policies and attachments of
 * the roles that carry it (matched by the role's name).
 */
export function administeredInPlan(plan: PlanJson, known: ReadonlySet<string> = new Set()): Set<string> {
  const out = new Set(known);
  const all = [...(plan.resource_changes ?? [])];
  const roleNames = new Set<string>();
  for (const rc of all) {
    const sides = [valuesOf(rc.change.before), valuesOf(rc.change.after)];
    if (!sides.some(taggedAdministered) && !known.has(rc.address)) continue;
    out.add(rc.address);
    if (rc.type === "aws_iam_role") for (const v of sides) if (typeof v?.name === "string") roleNames.add(v.name);
  }
  for (const rc of all) {
    if (!rc.type || !IAM_ROLE_POLICY_TYPES.has(rc.type)) continue;
    const roles = [valuesOf(rc.change.before), valuesOf(rc.change.after)].map((v) => v?.role ?? v?.role_name);
    if (roles.some((r) => typeof r === "string" && roleNames.has(r))) out.add(rc.address);
  }
  return out;
}

/** The kind of one resource change, as `terraform plan` names it. */
export function kindOf(rc: ResourceChange): ChangeKind | undefined {
  const a = rc.change.actions.join(",");
  if (a === "create") return "create";
  if (a === "delete") return "delete";
  if (a === "update") return "update";
  if (a === "delete,create" || a === "create,delete") return "replace";
  if (a === "read") return "read";
  if (a === "no-op") {
    if (rc.change.importing) return "import";
    if (rc.previous_address && rc.previous_address !== rc.address) return "move";
  }
  return undefined;
}

/**
 * Summarizes a plan (from `terraform show -json`) or a failure (exit code 1 and its log). `administered`:
 * addresses the synthesized stack says only an administrator applies (administeredBy).
 */
export function summarize(
  env: string,
  exitCode: number,
  plan: PlanJson | undefined,
  log = "",
  administered: ReadonlySet<string> = new Set(),
): PlanSummary {
  const counts: PlanCounts = { add: 0, change: 0, destroy: 0, import: 0, move: 0 };
  if (exitCode === 1 || !plan || plan.errored) {
    return { env, status: "failed", counts, changes: [], drift: [], administered: [], error: errorOf(log) };
  }
  const changes: PlanSummary["changes"] = [];
  for (const rc of plan.resource_changes ?? []) {
    const kind = kindOf(rc);
    if (!kind || rc.mode === "data") continue;
    changes.push({ address: rc.address, kind });
    if (kind === "create") counts.add++;
    if (kind === "update") counts.change++;
    if (kind === "delete") counts.destroy++;
    if (kind === "replace") {
      counts.add++;
      counts.destroy++;
    }
    if (kind === "import") counts.import++;
    if (kind === "move") counts.move++;
    // A change that also imports or moves counts there as well, as Terraform's own summary does.
    if (kind !== "import" && rc.change.importing) counts.import++;
    if (kind !== "move" && rc.previous_address && rc.previous_address !== rc.address) counts.move++;
  }
  const drift = (plan.resource_drift ?? []).flatMap((rc) => {
    const kind = kindOf(rc);
    return kind && rc.mode !== "data" ? [{ address: rc.address, kind }] : [];
  });
  const outputsChange = Object.values(plan.output_changes ?? {}).some((o) => !o.actions.every((a) => a === "no-op"));
  const status = changes.length > 0 || outputsChange ? "changes" : "no-changes";
  const adminAddresses = administeredInPlan(plan, administered);
  const adminChanges = changes.filter((c) => adminAddresses.has(c.address));
  // -detailed-exitcode: 2 means changes, 0 none. A disagreement means the inputs are mixed up.
  if (exitCode === 0 && changes.length > 0) {
    return {
      env,
      status: "failed",
      counts,
      changes,
      drift,
      administered: adminChanges,
      error: `terraform plan exited ${exitCode} but the plan file has ${changes.length} change(s): the plan file and the exit code are from different runs`,
    };
  }
  return { env, status, counts, changes, drift, administered: adminChanges };
}

/** The error lines of a failed plan's log (Terraform prints `Error: ...` blocks), ANSI colours removed. */
function errorOf(log: string): string {
  const clean = log.replace(/\x1b\[[0-9;]*m/g, "");
  const lines = clean.split("\n");
  const start = lines.findIndex((l) => /^\s*(│\s*)?Error: /.test(l));
  const text = (start >= 0 ? lines.slice(start) : lines.slice(-20)).join("\n").trim();
  const cut = text.length > 3000 ? `${text.slice(0, 3000)}\n...` : text;
  return cut || "terraform plan failed without output (see the job's log)";
}

const ICON: Record<PlanSummary["status"], string> = { changes: "🟡", "no-changes": "🟢", failed: "🔴" };
const SIGN: Record<ChangeKind, string> = { create: "+", update: "~", replace: "-/+", delete: "-", import: "<=", move: "->", read: "<=" };

/** The summary as Markdown: one section of the pull-request comment. */
export function renderMarkdown(s: PlanSummary, maxLines = 50): string {
  const head = `### ${ICON[s.status]} \`${s.env}\`: `;
  if (s.status === "failed") {
    return `${head}plan failed\n\n\`\`\`\n${(s.error ?? "").replace(/```/g, "'''")}\n\`\`\`\n`;
  }
  const c = s.counts;
  const extra = [c.import ? `${c.import} to import` : "", c.move ? `${c.move} to move` : ""].filter(Boolean);
  const line =
    s.status === "no-changes"
      ? "no changes"
      : `${c.add} to add, ${c.change} to change, ${c.destroy} to destroy${extra.length ? `, ${extra.join(", ")}` : ""}`;
  let md = `${head}${line}\n`;
  if (s.administered.length > 0) {
    md +=
      `\n> [!CAUTION]\n> **Administrator needed: re-run \`npm run bootstrap -- ${s.env}\` as an administrator** before this is applied. ${s.administered.length} change(s) only an administrator may apply ` +
      `(the CI roles, their policies, the workload boundary or GitHub's OIDC provider; tagged \`${ADMINISTERED_BY_TAG}: ${ADMINISTERED_BY_BOOTSTRAP}\`): ` +
      `${s.administered
        .slice(0, 5)
        .map((x) => `\`${x.address}\` (${x.kind})`)
        .join(", ")}${s.administered.length > 5 ? ", ..." : ""}. ` +
      "The deploy role is denied them: the apply job stops before applying anything until the bootstrap has applied them.\n";
  }
  const destructive = s.changes.filter((x) => x.kind === "delete" || x.kind === "replace");
  if (destructive.length > 0)
    md += `\n> [!WARNING]\n> ${destructive.length} resource(s) destroyed or replaced: ${destructive
      .slice(0, 5)
      .map((x) => `\`${x.address}\``)
      .join(", ")}${destructive.length > 5 ? ", ..." : ""}\n`;
  if (s.changes.length > 0) {
    const shown = s.changes.slice(0, maxLines).map((x) => `${SIGN[x.kind].padEnd(3)} ${x.address} (${x.kind})`);
    if (s.changes.length > maxLines) shown.push(`... and ${s.changes.length - maxLines} more (see the job's summary)`);
    md += `\n<details><summary>${s.changes.length} resource change(s)</summary>\n\n\`\`\`diff\n${shown.join("\n")}\n\`\`\`\n</details>\n`;
  }
  if (s.drift.length > 0) {
    md += `\n**Changed outside Terraform** (drift, ${s.drift.length}): ${s.drift
      .slice(0, 10)
      .map((x) => `\`${x.address}\` (${x.kind})`)
      .join(", ")}${s.drift.length > 10 ? ", ..." : ""}\n`;
  }
  return md;
}

function arg(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Command line: see the header. */
export function main(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(s)): number {
  const env = arg(argv, "--env");
  const exit = arg(argv, "--exitcode");
  if (!env || exit === undefined || !/^\d+$/.test(exit)) {
    process.stderr.write(
      "usage: plan-summary --env <name> --exitcode <terraform plan exit code> [--plan <show -json file>] [--log <plan log>] [--stack-json <cdk.tf.json>] [--administered-out <file>] [--json]\n",
    );
    return 2;
  }
  const planFile = arg(argv, "--plan");
  const logFile = arg(argv, "--log");
  const stackFile = arg(argv, "--stack-json");
  const plan =
    planFile && fs.existsSync(planFile) && fs.statSync(planFile).size > 0
      ? (JSON.parse(fs.readFileSync(planFile, "utf8")) as PlanJson)
      : undefined;
  const log = logFile && fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "";
  const known = stackFile ? administeredBy(JSON.parse(fs.readFileSync(stackFile, "utf8")) as StackJson) : new Set<string>();
  const s = summarize(env, Number(exit), plan, log, known);
  const adminOut = arg(argv, "--administered-out");
  if (adminOut) {
    if (s.administered.length > 0) fs.writeFileSync(adminOut, s.administered.map((a) => `${a.address}\n`).join(""));
    else fs.rmSync(adminOut, { force: true });
  }
  out(argv.includes("--json") ? `${JSON.stringify(s)}\n` : renderMarkdown(s));
  return s.status === "failed" ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
