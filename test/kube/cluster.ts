/**
 * Shared by the Kubernetes API check's test files: the server started once per run by
 * global-setup.ts, the synthesized stacks, and the schemas their objects need.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildApp } from "../../main";
import { GcpMlflowStack } from "../../stacks/gcp-stack";
import { AzureMlflowStack } from "../../stacks/azure-stack";
import { MlflowStack } from "../../stacks/mlflow-stack";
import { gcpConfig } from "../helpers/gcp";
import { azureConfig } from "../helpers/azure";
import { everyOptionConfig } from "../helpers/synth";
import { TOOLS_DIR } from "../helpers/tools";
import type { ClusterInfo } from "./apiserver";
import { kubeBin } from "./apiserver";
import { KubeClient } from "./client";
import { kindOfType, NOT_OBJECTS } from "./convert";

export { CLUSTER_ENV } from "./apiserver";
import { CLUSTER_ENV } from "./apiserver";

/** The running server (from global-setup.ts), with discovery read. */
export async function connect(): Promise<{ info: ClusterInfo; client: KubeClient }> {
  const file = process.env[CLUSTER_ENV];
  if (!file || !fs.existsSync(file))
    throw new Error(`${CLUSTER_ENV} is not set: run these tests with \`npm run test:kube\` (jest.kube.config.js starts the server)`);
  const info = JSON.parse(fs.readFileSync(file, "utf8")) as ClusterInfo;
  const client = new KubeClient(info);
  await client.discover();
  return { info, client };
}

export const helmRender = () => kubeBin(TOOLS_DIR, "helm-render");

/**
 * Synthesizes the stacks of every environment the configuration defines and, without a filter, the test
 * fixture's every-option environment and its GCP and Azure environments (test/fixtures/environments.ts): their
 * Kubernetes halves differ from the AWS one (Workload Identity annotations and pod labels, gs:// and wasbs://
 * destinations, each cloud's flows in the network policies), so they are submitted too. Returns their folders.
 */
export function synthStacks(filter?: string): Map<string, string> {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "kube-check-synth-"));
  const app = buildApp({ outdir, filter });
  if (!filter) {
    new MlflowStack(app, everyOptionConfig());
    new GcpMlflowStack(app, gcpConfig());
    new AzureMlflowStack(app, azureConfig());
  }
  app.synth();
  const stacks = new Map<string, string>();
  for (const name of fs.readdirSync(path.join(outdir, "stacks")).sort()) stacks.set(name, path.join(outdir, "stacks", name));
  return stacks;
}

/** Loads the OpenAPI schemas of every kind the stacks' kubernetes_* resources use. */
export async function loadSchemasFor(client: KubeClient, stackDirs: Iterable<string>): Promise<void> {
  const gvs = new Set<string>(["v1"]);
  for (const dir of stackDirs) {
    const json = JSON.parse(fs.readFileSync(path.join(dir, "cdk.tf.json"), "utf8")) as { resource?: Record<string, unknown> };
    for (const type of Object.keys(json.resource ?? {})) {
      if (!type.startsWith("kubernetes_") || type === "kubernetes_manifest" || NOT_OBJECTS[type]) continue;
      const { kind, version } = kindOfType(type);
      const info = client.kind(kind, version);
      if (info) gvs.add(info.apiVersion);
    }
  }
  await client.loadSchemas(gvs);
}
