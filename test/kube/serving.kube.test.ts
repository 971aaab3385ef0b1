/**
 * A released model endpoint's Kubernetes objects, accepted by a real kube-apiserver with the pinned Argo
 * Rollouts CRDs (v1.8.3, from its Go module): the Rollout, both AnalysisTemplates with the smoke Job, the
 * preview Service, the Deployment the Rollout references, the ingress exposure's gateway, the apiGateway
 * exposure's TargetGroupBinding (its CRD written from the API reference: test/kube/crds.ts). The shipped
 * configuration declares no release yet, so stacks.kube.test.ts sees these objects in the every-option
 * environment only (blue-green); this file synthesizes the test fixture's dev environment with one
 * (blue-green, then canary) and the every-option environment with canary delivery.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App } from "cdktf";
import { MlflowStack, stackName } from "../../stacks/mlflow-stack";
import type { EnvironmentConfig } from "../../config";
import { configured, envConfig, EVERY_OPTION } from "../helpers/synth";
import type { KubeClient } from "./client";
import { checkObjects, stackObjects } from "./check";
import { connect, helmRender, loadSchemasFor } from "./cluster";

const DIGEST = `sha256:${"12".repeat(32)}`;
const release = { "iris-classifier": { version: "7", imageDigest: DIGEST } };
const variants: Record<string, () => EnvironmentConfig> = {
  "blue-green, ingress exposure": () =>
    envConfig("dev", {
      serving: {
        releases: release,
        delivery: { strategy: "blueGreen" as const, autoPromotionEnabled: false },
        exposure: "ingress" as const,
        ingress: { domain: "models.example.com" },
      },
    }),
  "canary, no exposure": () =>
    envConfig("dev", { serving: { releases: release, delivery: { strategy: "canary" as const, canaryWeights: [20, 50, 80] } } }),
  "every option, canary, API Gateway exposure": () =>
    configured(EVERY_OPTION, { serving: { delivery: { strategy: "canary" as const, canaryWeights: [10, 30, 60] } } }),
};

function synth(config: () => EnvironmentConfig): { dir: string; name: string } {
  const cfg = config();
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "kube-check-serving-"));
  const app = new App({ outdir });
  new MlflowStack(app, cfg);
  app.synth();
  return { dir: path.join(outdir, "stacks", stackName(cfg)), name: stackName(cfg) };
}

const stacks = Object.fromEntries(Object.entries(variants).map(([k, v]) => [k, synth(v)]));
let client: KubeClient;
let serverVersion: string;

beforeAll(async () => {
  const c = await connect();
  client = c.client;
  serverVersion = c.info.version;
  await loadSchemasFor(
    client,
    Object.values(stacks).map((s) => s.dir),
  );
});

describe.each(Object.keys(variants))("model endpoint, %s", (variant) => {
  test("the Rollout, AnalysisTemplates (smoke Job) and every other object are accepted", async () => {
    const { dir, name } = stacks[variant];
    const { objects } = stackObjects(dir, client, helmRender(), serverVersion);
    const kinds = objects.map((o) => o.object.kind);
    expect(kinds).toEqual(expect.arrayContaining(["Rollout", "AnalysisTemplate", "Deployment", "Service", "NetworkPolicy"]));
    expect(kinds.filter((k) => k === "AnalysisTemplate")).toHaveLength(2);
    const report = await checkObjects(client, `${name} (${variant})`, objects);
    const rollouts = report.accepted.filter((a) => a.object.kind === "Rollout" || a.object.kind === "AnalysisTemplate").map((a) => a.what);
    process.stdout.write(
      `kube-check serving (${variant}): ${report.accepted.length} accepted, ${report.refused.length} refused; ${rollouts.join(", ")}\n`,
    );
    expect(report.refused.map((r) => `${r.what}: ${r.message}`)).toEqual([]);
    expect(rollouts.length).toBe(3);
    if (variant.includes("API Gateway")) expect(report.accepted.map((a) => a.object.kind)).toContain("TargetGroupBinding");
  });
});
