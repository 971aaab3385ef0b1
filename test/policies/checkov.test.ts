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
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { configured, SHIPPED, synthJson, type TfJson } from "../helpers/synth";
import { judge, matchesResource, runCheckov, type Report } from "../helpers/checkov";
import { gcpConfig, synthGcp } from "../helpers/gcp";
import { synthAzure } from "../helpers/azure";
import { AZURE_ENVIRONMENT_NAME, GCP_ENVIRONMENT_NAME } from "../fixtures/environments";

/** The stack without what checkov's terraform_json parser cannot read: non-object values of the terraform block. */
export function normalise(json: TfJson): { json: TfJson; dropped: string[] } {
  const terraform = { ...(json.terraform ?? {}) };
  const dropped = Object.keys(terraform).filter((k) => typeof terraform[k] !== "object" || terraform[k] === null);
  for (const k of dropped) delete terraform[k];
  return { json: { ...json, terraform }, dropped: dropped.map((k) => `terraform.${k}`) };
}

const RAW = "upstream-bug-raw";
let reports: Report[];
let stacksChecked: string[];
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "checkov-"));
  stacksChecked = [];
  // The GCP and Azure fixture environments' stacks beside the configured ones: checkov's Google and Azure checks
  // (CKV_GCP_*, CKV_AZURE_*) and its Kubernetes ones read the same stack JSON, so a resource of either cloud is held
  // to the same bar as an AWS one.
  const stacks: [string, () => TfJson][] = [
    ...SHIPPED.map((name): [string, () => TfJson] => [name, () => synthJson(configured(name))]),
    [GCP_ENVIRONMENT_NAME, () => synthGcp().json],
    // With a ci section: GitHub's Workload Identity provider and the CI service accounts (constructs/gcp-ci-identities).
    [
      `${GCP_ENVIRONMENT_NAME}-ci`,
      () => synthGcp(gcpConfig({ ci: { repository: "acme/ml-platform", projectNumber: "123456789012" } })).json,
    ],
    [AZURE_ENVIRONMENT_NAME, () => synthAzure().json],
  ];
  for (const [name, synth] of stacks) {
    const json = synth();
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
  reports = runCheckov(dir, "terraform_json");
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
      const checks = [...tf.results.passed_checks, ...tf.results.failed_checks].filter(
        (c) => c.file_path === `/stacks/${name}/cdk.tf.json`,
      );
      expect({ name, checks: checks.length > 50 }).toEqual({ name, checks: true });
    }
  });

  it("the upstream parser bug is still there: the raw stack is a parsing error, none of the normalised ones is", () => {
    // When this fails, checkov reads required_version: drop normalise() and this test (docs/checkov.md).
    expect(report("terraform_json").results.parsing_errors.map((p) => path.relative(dir, p))).toEqual([`${RAW}/cdk.tf.json`]);
  });

  it("every finding is fixed or skipped with a reason (policies/checkov/skips.json), and no skip is stale", () => {
    const findings = reports.flatMap((r) => r.results.failed_checks).filter((f) => !f.file_path.includes(RAW));
    const { open, stale, skips } = judge(findings, "terraform_json");
    expect(open).toEqual([]);
    expect(stale).toEqual([]);
    for (const s of skips) expect(s.reason.length).toBeGreaterThan(30);
  });
});
