/**
 * Model serving on the GCP stack against the Cloud Storage stand-in (fake-gcs-server): the GCP fixture's served
 * model (released, its inputs logged, drift on) is registered in the GCP step's tracking server with its training
 * reference, the ModelEndpoint's synthesized command serves it (the model directory in place of the image's
 * /opt/model, the tools' Python in place of the image's), POST /predict logs the rows, and the records land under
 * `<inference log prefix>/model=<m>/version=<v>/` in the stack's bucket and nowhere else. Then the drift CronJob's
 * synthesized command reads them back (`--source gs://...`) and logs its monitoring run in the tracking server.
 *
 * On GKE the server's and the job's pods reach Cloud Storage with their own Workload Identity (create only; list and
 * read only); here STORAGE_EMULATOR_HOST points google-cloud-storage at the emulator, as for the GCP step's other
 * workloads. Runs inside the GCP step (test/e2e/gcs.ts), after its tracking server is up.
 */
import * as fs from "fs";
import * as path from "path";
import { INFERENCE_LOG_PREFIX } from "../../config/inference";
import { gcpConfig, synthGcp } from "../helpers/gcp";
import { TOOLS_DIR } from "../helpers/tools";
import { type Ctx } from "./context";
import { LocalDeployment, type AddressRule } from "./lib/deployment";
import { LOOPBACK, freePort, request, waitFor, waitForHttp } from "./lib/net";
import { tail } from "./lib/processes";
import { TerraformValues } from "./lib/terraform";
import { workloads, type StackJson } from "./lib/workloads";
import { promSum } from "./workflow";
import type { Gcs } from "./services/gcs";

const MODEL = "iris-classifier";
const flag = (argv: readonly string[], name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);

/** What the GCP step hands over: its emulator, bucket and tracking server, and how to reach them. */
export interface GcsServingSession {
  readonly gcs: Gcs;
  readonly bucket: string;
  /** artifacts.prefix: MLflow's objects, the only others in the bucket. */
  readonly artifactPrefix: string;
  readonly trackingPort: number;
  readonly python: string;
  /** The tracking server's in-cluster Service -> its local port (what the drift job's MLFLOW_TRACKING_URI names). */
  readonly dnsRules: AddressRule[];
  /** How the GCP step resolves the stack's references (the bucket's name). */
  readonly resolve: (json: StackJson) => TerraformValues;
}

/**
 * The released version, registered in the GCP tracking server with the training reference drift compares with
 * (MLmodel metadata feature_reference, as examples/train.py logs it), then downloaded as the image holds it.
 */
const REGISTER = String.raw`
import json, sys
import mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from mlflow_platform.serving.observability import build_reference
name, features, out = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
x, y = load_iris(return_X_y=True)
mlflow.set_experiment("gcp-serving")
with mlflow.start_run():
    info = mlflow.sklearn.log_model(
        LogisticRegression(max_iter=500).fit(x, y), name="model", input_example=x[:2], registered_model_name=name,
        metadata={"feature_reference": build_reference({f: x[:, i].tolist() for i, f in enumerate(features)})},
    )
version = mlflow.MlflowClient().get_registered_model(name).latest_versions[0].version
mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=out)
json.dump({"version": str(version), "rows": x.tolist()}, open(out + ".json", "w"))
`;

/** Every object of the bucket outside MLflow's prefix, gunzipped (the log's objects are gzip JSON lines). */
const READ_LOG = String.raw`
import gzip, json, sys
from google.cloud import storage
bucket = storage.Client(project=sys.argv[2]).bucket(sys.argv[1])
out = {}
for blob in bucket.client.list_blobs(bucket):
    if blob.name.startswith(sys.argv[3] + "/"):
        continue
    raw = blob.download_as_bytes(raw_download=True)
    out[blob.name] = gzip.decompress(raw).decode() if raw[:2] == b"\x1f\x8b" else raw.decode(errors="replace")
json.dump(out, open(sys.argv[4], "w"))
`;

export async function gcsServing(ctx: Ctx, s: GcsServingSession): Promise<void> {
  const { report, procs } = ctx;
  const mlflowPlatform = path.join(TOOLS_DIR, "venv", "bin", "mlflow-platform");
  const toolsEnv = { PATH: `${path.dirname(s.python)}:/usr/bin:/bin`, LANG: "C.UTF-8" };
  // The fixture's served model, its batches written each second (the harness waits for them, not for the default).
  const config = gcpConfig({ serving: { models: { [MODEL]: { inferenceLog: { flushSeconds: 1 } } } } });
  const m = config.serving.models[MODEL];
  const release = config.serving.releases[MODEL];
  if (!m?.inferenceLog.enabled || !m.drift.enabled || !release)
    throw new Error(`the GCP fixture's ${MODEL} must be released, with inferenceLog and drift on`);
  const json = synthGcp(config).json as unknown as StackJson;
  fs.writeFileSync(path.join(ctx.runDir, "gcp-serving-cdk.tf.json"), JSON.stringify(json, null, 2));
  const all = workloads(json);
  const server = all.find((w) => w.kind === "Deployment" && w.podLabels["mlflow-platform/model"] === MODEL);
  const drift = all.find((w) => w.kind === "CronJob" && w.podLabels["app.kubernetes.io/component"] === "drift-job");
  if (!server || !drift) throw new Error(`expected the ${MODEL} server Deployment and its drift CronJob in the GCP stack`);

  // ── The model server, as the stack runs it ──
  const dep = new LocalDeployment(json, s.resolve(json), {}, path.join(ctx.runDir, "gcp-mounts"));
  const port = await freePort();
  const adminPort = await freePort();
  // The model's files in the pod's /tmp volume (its local directory: the harness maps the volume), not in an image.
  const modelRule: AddressRule = {
    why: "the model's files (the image's /opt/model), put in the pod's /tmp volume",
    apply: (v) => v.replace(/^\/opt\/model(?=\/|$)/, "/tmp/model"),
  };
  const storageEnv = {
    STORAGE_EMULATOR_HOST: {
      value: s.gcs.endpoint,
      why: "Cloud Storage stand-in (on GKE: storage.googleapis.com, as the pod's own Google service account)",
    },
  };
  const lp = dep.render(server, server.containers[0], {
    binaries: { "mlflow-platform": mlflowPlatform },
    ports: { http: port, metrics: adminPort },
    rules: [modelRule],
    extraEnv: storageEnv,
  });
  report.info(`gcp ${lp.name}: as Kubernetes runs it: ${lp.synthesized.argv.join(" ")}`);
  for (const c of lp.changes) report.info(`  local change ${c.where}: ${c.from} -> ${c.to} (${c.why})`);

  // ── The released version in the GCP tracking server, and its files where the image would have them ──
  const modelDir = flag(lp.argv, "--model-dir");
  if (!modelDir) throw new Error(`${lp.name} has no --model-dir`);
  const reg = await procs.run("gcp-serving-register", [s.python, "-c", REGISTER, MODEL, m.inputFields.join(","), modelDir], {
    env: { ...toolsEnv, MLFLOW_TRACKING_URI: `http://${LOOPBACK}:${s.trackingPort}` },
    timeoutMs: 300_000,
  });
  if (reg.code !== 0)
    throw new Error(`registering ${MODEL} exited ${reg.code}:\n${tail(path.join(procs.logDir, "gcp-serving-register.log"))}`);
  const registered = JSON.parse(fs.readFileSync(`${modelDir}.json`, "utf8")) as { version: string; rows: number[][] };
  if (registered.version !== release.version)
    throw new Error(`registered ${MODEL} version ${registered.version}, the fixture releases ${release.version}`);

  const destination = flag(lp.synthesized.argv, "--inference-log-destination");
  const logPrefix = flag(lp.synthesized.argv, "--inference-log-prefix");
  report.check(
    "the GCP model server logs into the stack's bucket (gs://) under the inference log's prefix",
    destination === `gs://${s.bucket}` && logPrefix === INFERENCE_LOG_PREFIX,
    `--inference-log-destination ${destination ?? "(none)"} --inference-log-prefix ${logPrefix ?? "(none)"}; the stack's bucket ${s.bucket}`,
  );
  const proc = procs.start("gcp-model-endpoint", lp.argv, { env: { ...toolsEnv, ...lp.env } });
  const base = `http://${LOOPBACK}:${port}`;
  await waitForHttp(`${base}/ping`, proc, 300_000, 200);

  try {
    // ── Predictions: every row logged (sampling 1), in batches of 10 ──
    const callerHeader = flag(lp.synthesized.argv, "--caller-header") ?? "X-Caller-Id";
    const rows = registered.rows;
    const statuses: number[] = [];
    for (let i = 0; i < rows.length; i += 10) {
      const r = await request(`${base}/predict`, {
        method: "POST",
        caller: "probe",
        headers: { "Content-Type": "application/json", [callerHeader]: `app-${i % 2}`, "X-Request-Id": `gcp-${i}` },
        body: JSON.stringify({ data: rows.slice(i, i + 10), context: { customer_id: `c-${i % 3}` } }),
      });
      statuses.push(r.status);
    }
    const written = async () =>
      promSum(
        (await request(`http://${LOOPBACK}:${adminPort}/metrics`, { caller: "scrape" })).body,
        "model_server_inference_log_requests_total",
        (l) => l.outcome === "written",
      ).sum;
    await waitFor("the predictions' records written", async () => (await written()) >= statuses.length, proc, 30_000);

    const dump = path.join(ctx.runDir, "gcp-inference-log.json");
    const read = await procs.run(
      "gcp-inference-log-read",
      [s.python, "-c", READ_LOG, s.bucket, config.gcp.projectId, s.artifactPrefix, dump],
      {
        env: { ...toolsEnv, STORAGE_EMULATOR_HOST: s.gcs.endpoint },
        timeoutMs: 120_000,
      },
    );
    if (read.code !== 0) throw new Error(`reading the inference log exited ${read.code}: ${read.output.slice(-500)}`);
    const objects = JSON.parse(fs.readFileSync(dump, "utf8")) as Record<string, string>;
    const keys = Object.keys(objects);
    const partition = new RegExp(
      `^${INFERENCE_LOG_PREFIX}/model=${MODEL}/version=${release.version}/date=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/[^/]+\\.jsonl\\.gz$`,
    );
    const records = Object.values(objects).flatMap((t) =>
      t
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { inputs?: Record<string, number>; context?: Record<string, string> }),
    );
    report.check(
      `every prediction's row lands in the emulator under ${INFERENCE_LOG_PREFIX}/model=${MODEL}/version=${release.version}/, and nothing outside MLflow's prefix elsewhere`,
      statuses.every((x) => x === 200) && keys.length > 0 && keys.every((k) => partition.test(k)) && records.length === rows.length,
      `${statuses.length} requests answered ${[...new Set(statuses)].join(",")}; ${records.length} records of ${rows.length} rows in ${keys.length} objects, e.g. ${keys[0] ?? "none"}; outside ${s.artifactPrefix}/: ${keys.filter((k) => !partition.test(k)).join(", ") || "nothing else"}`,
    );
    report.check(
      "the records name the configured features, and the hashed context field is not in clear",
      records.every(
        (r) => m.inputFields.every((f) => typeof r.inputs?.[f] === "number") && /^[0-9a-f]{64}$/.test(r.context?.customer_id ?? ""),
      ),
      JSON.stringify({ inputs: records[0]?.inputs, context: records[0]?.context }),
    );

    // ── The drift job reads them back ──
    const job = dep.render(drift, drift.containers[0], {
      binaries: { "mlflow-platform": mlflowPlatform },
      rules: [...s.dnsRules],
      extraEnv: storageEnv,
    });
    report.info(`gcp ${job.name}: as Kubernetes runs it: ${job.synthesized.argv.join(" ")}`);
    const source = flag(job.synthesized.argv, "--source");
    const x = await procs.run("gcp-drift-job", job.argv, { env: { ...toolsEnv, ...job.env }, timeoutMs: 180_000 });
    if (x.code !== 0)
      throw new Error(`the GCP drift CronJob's command exited ${x.code}:\n${tail(path.join(procs.logDir, "gcp-drift-job.log"))}`);
    const summary = JSON.parse(
      x.output
        .trim()
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("{")) ?? "{}",
    ) as { records?: number; run_id?: string; drifted?: string[]; psi?: Record<string, number | null> };
    const run = await request(`http://${LOOPBACK}:${s.trackingPort}/api/2.0/mlflow/runs/get?run_id=${summary.run_id ?? ""}`, {
      caller: "probe",
    });
    const data =
      run.status === 200
        ? (JSON.parse(run.body).run.data as { tags?: { key: string; value: string }[]; metrics?: { key: string; value: number }[] })
        : {};
    const tag = (k: string) => data.tags?.find((t) => t.key === k)?.value;
    const metric = (k: string) => data.metrics?.find((t) => t.key === k)?.value;
    report.check(
      "the GCP drift job reads the logged records back from gs:// and logs its monitoring run in the tracking server",
      source === `gs://${s.bucket}` &&
        summary.records === rows.length &&
        tag("mlflow-platform.monitoring") === "drift" &&
        metric("records") === rows.length &&
        m.inputFields.every((f) => metric(`psi.${f}`) !== undefined),
      `--source ${source ?? "(none)"}; ${summary.records ?? "no"} records read; run ${summary.run_id ?? "none"} (runs/get ${run.status}): records ${metric("records")}, drift=${tag("drift")}, PSI ${JSON.stringify(summary.psi ?? {})}`,
    );
  } finally {
    await procs.stop(proc);
  }
}
