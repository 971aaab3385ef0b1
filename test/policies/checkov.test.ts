/**
 * checkov over every synthesized stack (config/environments.ts's and the every-option fixture's), the
 * Kubernetes objects among them included (checkov's CKV_K8S checks of kubernetes_* resources): every finding
 * is either fixed or listed in policies/checkov/skips.json with the reason it does not apply (docs/checkov.md).
 * The objects of the local Helm charts are checked in the Kubernetes API suite (test/kube/checkov.kube.test.ts).
 *
 * checkov's terraform_json parser stops at the `terraform` block's `required_version` string ("this method
 * receives only dicts": every checkov release with terraform_json support, 3.3.30 included) and then checks
 * nothing while exiting 0. So checkov reads a copy of each stack with that string left out (normalise
 * below), a raw copy proves the bug is still there (when upstream fixes it, that test says so), and every
 * stack must have had checks run on it: a parser that reads nothing fails here, it does not pass.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { configured, SHIPPED, synthJson, type TfJson } from "../helpers/synth";
import { checkovBin } from "../helpers/tools";

type Skip = { check: string; resources: string[]; reason: string; configurable?: string };
const SKIPS = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "policies", "checkov", "skips.json"), "utf8")).skips as Skip[];

/** The stack without what checkov's terraform_json parser cannot read: non-object values of the terraform block. */
export function normalise(json: TfJson): { json: TfJson; dropped: string[] } {
  const terraform = { ...(json.terraform ?? {}) };
  const dropped = Object.keys(terraform).filter((k) => typeof terraform[k] !== "object" || terraform[k] === null);
  for (const k of dropped) delete terraform[k];
  return { json: { ...json, terraform }, dropped: dropped.map((k) => `terraform.${k}`) };
}

type Failed = { check_id: string; resource: string; file_path: string; check_name: string };
type Report = { check_type: string; summary: { passed: number; failed: number; parsing_errors: number };
  results: { passed_checks: { file_path: string }[]; failed_checks: Failed[]; parsing_errors: string[] } };

/** A finding's resource, as skips.json names it: its Terraform name without cdktf's hash suffix (or the Kubernetes kind.namespace.name). */
const resourceKey = (f: Failed) => f.resource.replace(/^(resource|data)\./, "").replace(/^[a-z0-9_]+\.(?=[a-z])/, "").replace(/_[0-9A-F]{8}$/, "");

/** A skips.json resource entry: a name, or a pattern with `*` for a part a fork chooses (a model's name). */
export const matchesResource = (entry: string, key: string) =>
  new RegExp(`^${entry.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[a-z0-9_.-]+")}$`).test(key);

const RAW = "upstream-bug-raw";
let reports: Report[];
let stacksChecked: string[];
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "checkov-"));
  stacksChecked = [];
  for (const name of SHIPPED) {
    const json = synthJson(configured(name));
    const stackDir = path.join(dir, "stacks", name);
    fs.mkdirSync(stackDir, { recursive: true });
    const { json: normalised, dropped } = normalise(json);
    expect(dropped).toEqual(["terraform.required_version"]);
    fs.writeFileSync(path.join(stackDir, "cdk.tf.json"), JSON.stringify(normalised, null, 2));
    stacksChecked.push(name);
  }
  // The first stack as synthesized, untouched: checkov's parser must still fail on it (the upstream bug).
  fs.mkdirSync(path.join(dir, RAW));
  fs.writeFileSync(path.join(dir, RAW, "cdk.tf.json"), JSON.stringify(synthJson(configured(SHIPPED[0])), null, 2));
  let out: string;
  try {
    out = execFileSync(checkovBin(), ["-d", dir, "--framework", "terraform_json", "--skip-download", "--compact", "-o", "json"],
      { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: "ERROR" } });
  } catch (err) {
    // checkov exits 1 when a check failed: the findings are judged below, against skips.json.
    out = (err as { stdout?: string }).stdout ?? "";
    if (!out) throw err;
  }
  const parsed = JSON.parse(out) as Report | Report[];
  reports = Array.isArray(parsed) ? parsed : [parsed];
}, 300_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const report = (type: string) => reports.find((r) => r.check_type === type)!;

describe("checkov over every synthesized stack and the Kubernetes manifests", () => {
  it("a skip names a resource exactly, or with * for the part a fork chooses", () => {
    expect(matchesResource("model_*_deployment", "model_churn_model_deployment")).toBe(true);
    expect(matchesResource("model_*_deployment", "tracking_server_deployment")).toBe(false);
    expect(matchesResource("backend_store_instance", "backend_store_instance_replica")).toBe(false);
  });

  it("checked every stack: a parser that reads nothing fails here", () => {
    const tf = report("terraform_json");
    for (const name of stacksChecked) {
      const checks = [...tf.results.passed_checks, ...tf.results.failed_checks].filter((c) => c.file_path === `/stacks/${name}/cdk.tf.json`);
      expect({ name, checks: checks.length > 50 }).toEqual({ name, checks: true });
    }
  });

  it("the upstream parser bug is still there: the raw stack is a parsing error, none of the normalised ones is", () => {
    // When this fails, checkov reads required_version: drop normalise() and this test (docs/checkov.md).
    expect(report("terraform_json").results.parsing_errors.map((p) => path.relative(dir, p))).toEqual([`${RAW}/cdk.tf.json`]);
  });

  it("every finding is fixed or skipped with a reason (policies/checkov/skips.json), and no skip is stale", () => {
    const findings = reports.flatMap((r) => r.results.failed_checks).filter((f) => !f.file_path.includes(RAW));
    const skipped = (f: Failed) => SKIPS.some((s) => s.check === f.check_id && s.resources.some((r) => matchesResource(r, resourceKey(f))));
    const open = [...new Set(findings.filter((f) => !skipped(f)).map((f) => `${f.check_id} ${resourceKey(f)} (${f.check_name}) in ${f.file_path}`))];
    if (process.env.CHECKOV_FINDINGS) fs.writeFileSync(process.env.CHECKOV_FINDINGS, JSON.stringify(findings.map((f) => ({ ...f, key: resourceKey(f) })), null, 1));
    expect(open).toEqual([]);
    // A skip whose finding depends on configuration (`configurable`) may not occur in a fork's environments.
    const stale = SKIPS.filter((s) => !s.configurable).flatMap((s) => s.resources.filter((r) => !findings.some((f) => f.check_id === s.check && matchesResource(r, resourceKey(f)))).map((r) => `${s.check} ${r}`));
    expect(stale).toEqual([]);
    for (const s of SKIPS) expect(s.reason.length).toBeGreaterThan(30);
  });
});
