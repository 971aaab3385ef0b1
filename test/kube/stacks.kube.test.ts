/**
 * Every Kubernetes object of every stack the configuration defines is accepted by a real
 * kube-apiserver of the targeted version (server-side dry run, strict field validation, Pod Security
 * enforced on a bare Pod of every pod template, custom resources checked by their CRDs' schemas).
 * New constructs are covered without a new test: every kubernetes_* resource and every local Helm
 * chart of the synthesized JSON is submitted.
 */
import { loadEnvironments } from "../../config";
import { everyOptionConfig } from "../helpers/synth";
import type { KubeClient } from "./client";
import { checkObjects, stackObjects } from "./check";
import { connect, helmRender, loadSchemasFor, synthStacks } from "./cluster";

const stacks = synthStacks();
const configs = new Map([...loadEnvironments(), everyOptionConfig()].map((c) => [`mlflow-${c.name}`, c]));
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
  test("targets the Kubernetes version of the server the check runs", () => {
    const want = configs.get(stack)!.cluster.kubernetesVersion;
    expect(serverVersion.startsWith(`v${want}.`) ? want : serverVersion).toBe(want);
  });

  test("every Kubernetes object is accepted by the kube-apiserver", async () => {
    const { objects, notChecked } = stackObjects(stacks.get(stack)!, client, helmRender(), serverVersion);
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
