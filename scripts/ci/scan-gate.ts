/**
 * Refuses an image whose ECR scan found vulnerabilities at or above a severity, or whose scan is not of
 * the image that will be deployed:
 *
 *   aws ecr describe-images --image-ids imageDigest=$DIGEST ... > image.json
 *   aws ecr wait image-scan-complete ...; aws ecr describe-image-scan-findings ... > findings.json
 *   node dist/scripts/ci/scan-gate.js --image image.json --findings findings.json --digest $DIGEST [--fail-on HIGH]
 *
 * What is deployed is the pushed digest (config/releases/<env>.json pins it). It must be a single image
 * manifest: ECR's basic scanning does not scan an image index (what buildx pushes with SBOM or provenance
 * attestations; constructs/core/ecr-rules.ts, ECR_SOURCES.indexScan), so the pipeline pushes
 * without them (`--provenance=false --sbom=false`) and attests on GitHub instead. The findings must be the
 * findings of that digest.
 *
 * Exit 0: passed; 1: refused (the release stops, nothing is deployed); 2: bad input, or the scan did
 * not complete (an unfinished or failed scan is a refusal too, never a pass).
 */
import * as fs from "fs";
import { flag, run } from "./cli";

const ORDER = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"] as const;
type Severity = (typeof ORDER)[number];

/** Media types of a single image manifest: what ECR's basic scan scans and a pod runs. */
export const SINGLE_MANIFEST_TYPES = ["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"];

interface Findings {
  imageId?: { imageDigest?: string };
  imageScanStatus?: { status?: string; description?: string };
  imageScanFindings?: {
    findingSeverityCounts?: Partial<Record<Severity | "UNDEFINED", number>>;
    findings?: { name?: string; severity?: string }[];
    enhancedFindings?: { severity?: string; packageVulnerabilityDetails?: { vulnerabilityId?: string } }[];
  };
}

/** `aws ecr describe-images` output. */
interface Images {
  imageDetails?: { imageDigest?: string; imageManifestMediaType?: string; artifactMediaType?: string }[];
}

type Decision = { pass: boolean; reason: string; counts: Record<string, number> };

/** Is `image` (describe-images of the deployed digest) a single manifest ECR scans? A refusal says why not. */
export function imageDecision(images: Images, digest: string): Decision | undefined {
  const detail = (images.imageDetails ?? []).find((d) => d.imageDigest === digest);
  if (!detail) return { pass: false, reason: `the repository has no image ${digest}: describe the pushed digest`, counts: {} };
  const type = detail.imageManifestMediaType ?? "";
  if (!SINGLE_MANIFEST_TYPES.includes(type)) {
    return {
      pass: false,
      reason: `${digest} is an ${type || "unknown media type"}, not a single image manifest: ECR's basic scan does not scan an image index, so the scan would not be of what runs (push with --provenance=false --sbom=false)`,
      counts: {},
    };
  }
  return undefined;
}

export function scanDecision(f: Findings, failOn: Severity, digest?: string): Decision {
  if (digest && f.imageId?.imageDigest !== digest) {
    return {
      pass: false,
      reason: `the findings are of ${f.imageId?.imageDigest ?? "no digest"}, not of the deployed ${digest}`,
      counts: {},
    };
  }
  const status = f.imageScanStatus?.status;
  if (status !== "COMPLETE" && status !== "ACTIVE")
    return {
      pass: false,
      reason: `the scan is ${status ?? "missing"}${f.imageScanStatus?.description ? ` (${f.imageScanStatus.description})` : ""}: no image goes out unscanned`,
      counts: {},
    };
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
  const image = flag(argv, "--image");
  const digest = flag(argv, "--digest");
  const failOn = (flag(argv, "--fail-on") ?? "HIGH").toUpperCase() as Severity;
  if (!file || !image || !digest || !/^sha256:[a-f0-9]{64}$/.test(digest) || !ORDER.includes(failOn)) {
    process.stderr.write(
      `usage: scan-gate --image <describe-images JSON> --findings <describe-image-scan-findings JSON> --digest sha256:<64 hex> [--fail-on ${ORDER.join("|")}]\n`,
    );
    return 2;
  }
  const d =
    imageDecision(JSON.parse(fs.readFileSync(image, "utf8")) as Images, digest) ??
    scanDecision(JSON.parse(fs.readFileSync(file, "utf8")) as Findings, failOn, digest);
  out(`${JSON.stringify(d)}\n`);
  return d.pass ? 0 : 1;
}

if (require.main === module) run("scan-gate", () => main(process.argv.slice(2)));
