/**
 * checkov (tools/checkov-requirements.txt) run over a folder, and its findings judged against
 * policies/checkov/skips.json: each finding is fixed or skipped there with a reason (docs/checkov.md).
 * Used by test/policies/checkov.test.ts (the synthesized stacks, framework terraform_json) and
 * test/kube/stacks.kube.test.ts (every Kubernetes object, Helm charts' included, framework kubernetes).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { checkovBin } from "./tools";

export type Framework = "terraform_json" | "kubernetes";
export type Skip = { check: string; resources: string[]; reason: string; configurable?: string; framework?: Framework };
export type Failed = { check_id: string; resource: string; file_path: string; check_name: string };
export type Report = {
  check_type: string;
  summary: { passed: number; failed: number; parsing_errors: number };
  results: { passed_checks: { file_path: string }[]; failed_checks: Failed[]; parsing_errors: string[] };
};

const SKIPS_FILE = path.join(__dirname, "..", "..", "policies", "checkov", "skips.json");
/** The skips of one framework (an entry without `framework` is terraform_json's). */
export const skipsOf = (framework: Framework): Skip[] =>
  (JSON.parse(fs.readFileSync(SKIPS_FILE, "utf8")).skips as Skip[]).filter((s) => (s.framework ?? "terraform_json") === framework);

/** A skips.json resource entry: a name, or a pattern with `*` for a part a fork chooses (a model's name). */
export const matchesResource = (entry: string, key: string) =>
  new RegExp(
    `^${entry
      .split("*")
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join("[A-Za-z0-9_.-]+")}$`,
  ).test(key);

/**
 * A finding's resource as skips.json names it. Terraform: its name without cdktf's hash suffix (the same in
 * every stack). Kubernetes: `Kind.name` (checkov says `Kind.namespace.name`; namespaces are configurable).
 */
export function resourceKey(f: Failed, framework: Framework): string {
  if (framework === "kubernetes") {
    const [kind, , ...name] = f.resource.split(".");
    return `${kind}.${name.join(".")}`;
  }
  return f.resource
    .replace(/^(resource|data)\./, "")
    .replace(/^[a-z0-9_]+\.(?=[a-z])/, "")
    .replace(/_[0-9A-F]{8}$/, "");
}

/** Runs checkov over `dir` with one framework; its reports (checkov exits 1 when a check failed: judged by the caller). */
export function runCheckov(dir: string, framework: Framework): Report[] {
  let out: string;
  try {
    out = execFileSync(checkovBin(), ["-d", dir, "--framework", framework, "--skip-download", "--compact", "-o", "json"], {
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LOG_LEVEL: "ERROR" },
    });
  } catch (err) {
    out = (err as { stdout?: string }).stdout ?? "";
    if (!out) throw err;
  }
  const parsed = JSON.parse(out) as Report | Report[];
  return Array.isArray(parsed) ? parsed : [parsed];
}

/**
 * The findings no skip covers, and the skips no finding needs (stale), except those whose finding depends on
 * configuration (`configurable`: a fork's environments may not have it).
 */
export function judge(findings: Failed[], framework: Framework): { open: string[]; stale: string[]; skips: Skip[] } {
  const skips = skipsOf(framework);
  const key = (f: Failed) => resourceKey(f, framework);
  const skipped = (f: Failed) => skips.some((s) => s.check === f.check_id && s.resources.some((r) => matchesResource(r, key(f))));
  const open = [...new Set(findings.filter((f) => !skipped(f)).map((f) => `${f.check_id} ${key(f)} (${f.check_name}) in ${f.file_path}`))];
  const stale = skips
    .filter((s) => !s.configurable)
    .flatMap((s) =>
      s.resources.filter((r) => !findings.some((f) => f.check_id === s.check && matchesResource(r, key(f)))).map((r) => `${s.check} ${r}`),
    );
  return { open, stale, skips };
}
