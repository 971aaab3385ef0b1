/**
 * Renders a Terraform plan as the Markdown the pull-request comment and the job summaries show, from
 * `terraform show -json <planfile>` (Terraform's documented JSON plan format: `resource_changes[].change.actions`,
 * `resource_drift`, `output_changes`), or from the plan's log when the plan failed and left no file.
 *
 *   node dist/scripts/ci/plan-summary.js --env dev --exitcode 2 --plan plan.json [--log plan.log] > dev.md
 *
 * Exit code: 0 when the plan succeeded (with or without changes), 1 when it failed: the workflow's
 * check fails on a failed plan. Only addresses and actions are printed, never attribute values (a plan
 * holds secrets in clear text).
 */
import * as fs from "fs";

/** Terraform's change actions (JSON plan format). */
type Action = "no-op" | "create" | "read" | "update" | "delete";

interface ResourceChange {
  readonly address: string;
  readonly mode?: "managed" | "data";
  readonly type?: string;
  readonly previous_address?: string;
  readonly action_reason?: string;
  readonly change: { readonly actions: Action[]; readonly importing?: unknown };
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

export interface PlanCounts { add: number; change: number; destroy: number; import: number; move: number }

export interface PlanSummary {
  readonly env: string;
  readonly status: "changes" | "no-changes" | "failed";
  readonly counts: PlanCounts;
  readonly changes: { address: string; kind: ChangeKind }[];
  /** Resources changed outside Terraform since the last apply. */
  readonly drift: { address: string; kind: ChangeKind }[];
  readonly error?: string;
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

/** Summarizes a plan (from `terraform show -json`) or a failure (exit code 1 and its log). */
export function summarize(env: string, exitCode: number, plan: PlanJson | undefined, log = ""): PlanSummary {
  const counts: PlanCounts = { add: 0, change: 0, destroy: 0, import: 0, move: 0 };
  if (exitCode === 1 || !plan || plan.errored) {
    return { env, status: "failed", counts, changes: [], drift: [], error: errorOf(log) };
  }
  const changes: PlanSummary["changes"] = [];
  for (const rc of plan.resource_changes ?? []) {
    const kind = kindOf(rc);
    if (!kind || rc.mode === "data") continue;
    changes.push({ address: rc.address, kind });
    if (kind === "create") counts.add++;
    if (kind === "update") counts.change++;
    if (kind === "delete") counts.destroy++;
    if (kind === "replace") { counts.add++; counts.destroy++; }
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
  // -detailed-exitcode: 2 means changes, 0 none. A disagreement means the inputs are mixed up.
  if (exitCode === 0 && changes.length > 0) {
    return { env, status: "failed", counts, changes, drift, error: `terraform plan exited ${exitCode} but the plan file has ${changes.length} change(s): the plan file and the exit code are from different runs` };
  }
  return { env, status, counts, changes, drift };
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
  const line = s.status === "no-changes"
    ? "no changes"
    : `${c.add} to add, ${c.change} to change, ${c.destroy} to destroy${extra.length ? `, ${extra.join(", ")}` : ""}`;
  let md = `${head}${line}\n`;
  const destructive = s.changes.filter((x) => x.kind === "delete" || x.kind === "replace");
  if (destructive.length > 0) md += `\n> [!WARNING]\n> ${destructive.length} resource(s) destroyed or replaced: ${destructive.slice(0, 5).map((x) => `\`${x.address}\``).join(", ")}${destructive.length > 5 ? ", ..." : ""}\n`;
  if (s.changes.length > 0) {
    const shown = s.changes.slice(0, maxLines).map((x) => `${SIGN[x.kind].padEnd(3)} ${x.address} (${x.kind})`);
    if (s.changes.length > maxLines) shown.push(`... and ${s.changes.length - maxLines} more (see the job's summary)`);
    md += `\n<details><summary>${s.changes.length} resource change(s)</summary>\n\n\`\`\`diff\n${shown.join("\n")}\n\`\`\`\n</details>\n`;
  }
  if (s.drift.length > 0) {
    md += `\n**Changed outside Terraform** (drift, ${s.drift.length}): ${s.drift.slice(0, 10).map((x) => `\`${x.address}\` (${x.kind})`).join(", ")}${s.drift.length > 10 ? ", ..." : ""}\n`;
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
    process.stderr.write("usage: plan-summary --env <name> --exitcode <terraform plan exit code> [--plan <show -json file>] [--log <plan log>] [--json]\n");
    return 2;
  }
  const planFile = arg(argv, "--plan");
  const logFile = arg(argv, "--log");
  const plan = planFile && fs.existsSync(planFile) && fs.statSync(planFile).size > 0 ? JSON.parse(fs.readFileSync(planFile, "utf8")) as PlanJson : undefined;
  const log = logFile && fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "";
  const s = summarize(env, Number(exit), plan, log);
  out(argv.includes("--json") ? `${JSON.stringify(s)}\n` : renderMarkdown(s));
  return s.status === "failed" ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
