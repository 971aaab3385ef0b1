/**
 * The Kubernetes objects of inference observability accepted by the real kube-apiserver: the
 * shipped environments release no model yet, so this synthesizes the dev stack with a release (as the
 * release pipeline would write it) and logging on, and checks every object of that stack: the logging
 * model server (its egress, its key Secret, its service account), the drift CronJob, everything else.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App } from "cdktf";
import { MlflowStack } from "../../stacks/mlflow-stack";
import { envConfig } from "../helpers/synth";
import type { KubeClient } from "./client";
import { checkObjects, stackObjects } from "./check";
import { connect, helmRender, loadSchemasFor } from "./cluster";

const config = envConfig("dev");
const MODEL = Object.keys(config.serving.models)[0];
const released = envConfig("dev", {
  serving: {
    releases: { [MODEL]: { version: "1", imageDigest: `sha256:${"ef".repeat(32)}` } },
    models: {
      [MODEL]: {
        inputFields: ["a", "b"],
        inferenceLog: { enabled: true, contextFields: ["note"], rules: [{ field: "note", kind: "redact" }] },
      },
    },
  },
});
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "kube-check-inference-"));
const app = new App({ outdir });
new MlflowStack(app, released);
app.synth();
const stackDir = path.join(outdir, "stacks", fs.readdirSync(path.join(outdir, "stacks"))[0]);
let client: KubeClient;
let serverVersion: string;

beforeAll(async () => {
  const c = await connect();
  client = c.client;
  serverVersion = c.info.version;
  await loadSchemasFor(client, [stackDir]);
});

test("a released, logging model server and its drift CronJob are accepted by the kube-apiserver", async () => {
  const { objects } = stackObjects(stackDir, client, helmRender(), serverVersion);
  const whats = objects.map((o) => o.what).join("\n");
  expect(whats).toMatch(/kubernetes_cron_job_v1\.drift_/);
  expect(whats).toMatch(/kubernetes_secret_v1\.model_.*_inference_log_key_/);
  const report = await checkObjects(client, `${path.basename(stackDir)}-inference`, objects);
  process.stdout.write(`kube-check inference: ${report.accepted.length} objects accepted, ${report.refused.length} refused\n`);
  expect(report.refused.map((r) => `${r.what}: ${r.message}`)).toEqual([]);
});
