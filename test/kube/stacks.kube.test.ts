/**
 * Every Kubernetes object of every stack the configuration defines is accepted by a real
 * kube-apiserver of the targeted version (server-side dry run, strict field validation, Pod Security
 * enforced on a bare Pod of every pod template, custom resources checked by their CRDs' schemas).
 * New constructs are covered without a new test: every kubernetes_* resource and every local Helm
 * chart of the synthesized JSON is submitted.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadEnvironments } from "../../config";
import { judge, runCheckov, type Report } from "../helpers/checkov";
import { gcpConfig } from "../helpers/gcp";
import { azureConfig } from "../helpers/azure";
import { everyOptionConfig } from "../helpers/synth";
import type { KubeClient } from "./client";
import { checkObjects, stackObjects } from "./check";
import { connect, helmRender, loadSchemasFor, synthStacks } from "./cluster";

const stacks = synthStacks();
const configs = new Map<
  string,
  ReturnType<typeof loadEnvironments>[number] | ReturnType<typeof gcpConfig> | ReturnType<typeof azureConfig>
>([...loadEnvironments(), everyOptionConfig(), gcpConfig(), azureConfig()].map((c) => [`${c.project}-${c.name}`, c]));
/** Every stack's objects, as submitted to the server: checkov checks the same ones (last test). */
const submitted = new Map<string, { what: string; object: object }[]>();
let client: KubeClient;
let serverVersion: string;

beforeAll(async () => {
  const c = await connect();
  client = c.client;
  serverVersion = c.info.version;
  await loadSchemasFor(client, stacks.values());
});

test("the configuration defines stacks, and each has a configuration", () => {
  expect(stacks.size).toBeGreaterThan(0);
  for (const name of stacks.keys()) expect(configs.has(name)).toBe(true);
});

describe.each([...stacks.keys()])("%s", (stack) => {
  // A GCP or Azure environment deploys into an existing GKE or AKS cluster whose version it does not configure.
  const config = configs.get(stack);
  (config?.cloud === "gcp" || config?.cloud === "azure" ? test.skip : test)(
    "targets the Kubernetes version of the server the check runs",
    () => {
      const config = configs.get(stack)!;
      if (config.cloud === "gcp" || config.cloud === "azure") throw new Error("unreachable: skipped above");
      const want = config.cluster.kubernetesVersion;
      expect(serverVersion.startsWith(`v${want}.`) ? want : serverVersion).toBe(want);
    },
  );

  test("every Kubernetes object is accepted by the kube-apiserver", async () => {
    const { objects, notChecked } = stackObjects(stacks.get(stack)!, client, helmRender(), serverVersion);
    submitted.set(stack, objects);
    const report = await checkObjects(client, stack, objects);
    const pods = report.accepted.filter((a) => a.what.endsWith("(bare Pod)")).length;
    process.stdout.write(
      `kube-check ${stack}: ${report.accepted.length} objects accepted by kube-apiserver ${serverVersion} ` +
        `(${report.accepted.length - pods} objects + ${pods} bare Pods), ${report.refused.length} refused\n` +
        notChecked.map((n) => `  not checked: ${n.address}: ${n.reason}\n`).join(""),
    );
    expect(report.refused.map((r) => `${r.what}: ${r.message}`)).toEqual([]);
    expect(report.accepted.length).toBeGreaterThan(0);
  });
});

/**
 * checkov over the same Kubernetes manifests (every kubernetes_* resource converted, every local Helm chart
 * rendered): every finding is fixed or skipped with a reason in policies/checkov/skips.json (framework
 * kubernetes). Runs after the per-stack tests above, which collect the objects.
 */
test("checkov: every finding on the Kubernetes manifests is fixed or skipped with a reason, none stale", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "checkov-kube-"));
  try {
    for (const stack of stacks.keys()) {
      const objects = submitted.get(stack);
      expect({ stack, collected: objects !== undefined }).toEqual({ stack, collected: true });
      fs.mkdirSync(path.join(dir, stack));
      objects!.forEach((o, i) =>
        fs.writeFileSync(path.join(dir, stack, `${String(i).padStart(4, "0")}.json`), JSON.stringify(o.object, null, 2)),
      );
    }
    const reports: Report[] = runCheckov(dir, "kubernetes");
    const k8s = reports.find((r) => r.check_type === "kubernetes");
    // Every stack's manifests were read (checkov reads nothing silently when it cannot parse).
    for (const stack of stacks.keys()) {
      const checks = [...(k8s?.results.passed_checks ?? []), ...(k8s?.results.failed_checks ?? [])].filter((c) =>
        c.file_path.startsWith(`/${stack}/`),
      );
      expect({ stack, checked: checks.length > 20 }).toEqual({ stack, checked: true });
    }
    expect(k8s!.summary.parsing_errors).toBe(0);
    const { open, stale, skips } = judge(k8s!.results.failed_checks, "kubernetes");
    if (process.env.CHECKOV_FINDINGS)
      fs.writeFileSync(
        process.env.CHECKOV_FINDINGS,
        JSON.stringify(
          k8s!.results.failed_checks.map((f) => [f.check_id, f.resource, f.check_name, f.file_path]),
          null,
          1,
        ),
      );
    expect(open).toEqual([]);
    expect(stale).toEqual([]);
    for (const s of skips) expect(s.reason.length).toBeGreaterThan(30);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 300_000);
