/**
 * Refuses an image whose ECR scan found vulnerabilities at or above a severity
 * (`aws ecr describe-image-scan-findings` output, basic or enhanced scanning):
 *
 *   aws ecr describe-image-scan-findings ... > findings.json
 *   node dist/scripts/ci/scan-gate.js --findings findings.json [--fail-on HIGH]
 *
 * Exit 0: passed; 1: refused (the release stops, nothing is deployed); 2: bad input, or the scan did
 * not complete (an unfinished or failed scan is a refusal too, never a pass).
 */
import * as fs from "fs";
import { flag, run } from "./cli";

const ORDER = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"] as const;
type Severity = (typeof ORDER)[number];

interface Findings {
  imageScanStatus?: { status?: string; description?: string };
  imageScanFindings?: {
    findingSeverityCounts?: Partial<Record<Severity | "UNDEFINED", number>>;
    findings?: { name?: string; severity?: string }[];
    enhancedFindings?: { severity?: string; packageVulnerabilityDetails?: { vulnerabilityId?: string } }[];
  };
}

export function scanDecision(f: Findings, failOn: Severity): { pass: boolean; reason: string; counts: Record<string, number> } {
  const status = f.imageScanStatus?.status;
  if (status !== "COMPLETE" && status !== "ACTIVE") return { pass: false, reason: `the scan is ${status ?? "missing"}${f.imageScanStatus?.description ? ` (${f.imageScanStatus.description})` : ""}: no image goes out unscanned`, counts: {} };
  const counts: Record<string, number> = { ...(f.imageScanFindings?.findingSeverityCounts ?? {}) } as Record<string, number>;
  if (Object.keys(counts).length === 0) {
    for (const x of [...(f.imageScanFindings?.findings ?? []), ...(f.imageScanFindings?.enhancedFindings ?? [])]) {
      const s = (x.severity ?? "UNDEFINED").toUpperCase();
      counts[s] = (counts[s] ?? 0) + 1;
    }
  }
  const blocking = ORDER.slice(ORDER.indexOf(failOn)).filter((s) => (counts[s] ?? 0) > 0);
  return blocking.length > 0
    ? { pass: false, reason: `${blocking.map((s) => `${counts[s]} ${s}`).join(", ")} finding(s) at or above ${failOn}`, counts }
    : { pass: true, reason: `no finding at or above ${failOn}`, counts };
}

export async function main(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const file = flag(argv, "--findings");
  const failOn = (flag(argv, "--fail-on") ?? "HIGH").toUpperCase() as Severity;
  if (!file || !ORDER.includes(failOn)) {
    process.stderr.write(`usage: scan-gate --findings <describe-image-scan-findings JSON> [--fail-on ${ORDER.join("|")}]\n`);
    return 2;
  }
  const d = scanDecision(JSON.parse(fs.readFileSync(file, "utf8")) as Findings, failOn);
  out(`${JSON.stringify(d)}\n`);
  return d.pass ? 0 : 1;
}

if (require.main === module) run("scan-gate", () => main(process.argv.slice(2)));
