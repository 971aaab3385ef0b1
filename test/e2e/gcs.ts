/**
 * The GCP stack's tracking server and gc against a Cloud Storage stand-in (fake-gcs-server): the GCP fixture
 * environment (test/fixtures/environments.ts) is synthesized, its migration Job's, tracking server
 * Deployment's and gc CronJob's commands are rendered for loopback exactly as for the AWS stack (the same
 * LocalDeployment, the same address rules), with a gs:// artifacts destination. Then a run's artifacts land
 * under the stack's prefix in the emulator, a model logged through the tracking server is loaded back and
 * predicts, and a run deleted longer ago than the retention is removed with its artifacts by gc.
 *
 * On GKE the pods reach Cloud Storage with their Workload Identity; here STORAGE_EMULATOR_HOST points
 * google-cloud-storage at the emulator (anonymous credentials), and GOOGLE_CLOUD_PROJECT names the project.
 * Runs as one step of `npm run test:e2e`, or alone: `npm run build && node dist/test/e2e/gcs.js`.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { gcpConfig, synthGcp } from "../helpers/gcp";
import { TOOLS_DIR } from "../helpers/tools";
import { type Ctx } from "./context";
import { LocalDeployment, postgresRule, postgresUris, serviceRule, type LocalProcess } from "./lib/deployment";
import { LOOPBACK, freePort, request, waitForHttp } from "./lib/net";
import { Processes, tail } from "./lib/processes";
import { Report, describe } from "./lib/report";
import { TerraformValues } from "./lib/terraform";
import { selects, workloads, type Workload, type StackJson } from "./lib/workloads";
import { startGcs, type Gcs } from "./services/gcs";
import { startPostgres, type Postgres } from "./services/postgres";

/** Every `gs://bucket/prefix` in a rendered process. */
export function gsUris(p: Pick<LocalProcess, "argv" | "env">): { bucket: string; prefix: string }[] {
  const out = new Map<string, { bucket: string; prefix: string }>();
  for (const s of [...p.argv, ...Object.values(p.env)]) {
    for (const m of s.matchAll(/gs:\/\/([a-z0-9._-]+)\/?([^\s,]*)/g)) out.set(m[0], { bucket: m[1], prefix: m[2].replace(/\/$/, "") });
  }
  return [...out.values()];
}

const one = (w: Workload) => {
  if (w.containers.length !== 1) throw new Error(`${w.address} has ${w.containers.length} containers; expected one`);
  if (w.initContainers.length > 0) throw new Error(`${w.address} has init containers, which the harness does not run`);
  return w.containers[0];
};

/** The client side, in the tools' Python: a run with an artifact and a model, the model loaded back, a second run deleted. */
const CLIENT = String.raw`
import json, sys
import mlflow, numpy as np
from sklearn.linear_model import LogisticRegression
mlflow.set_experiment("gcp-e2e")
X = np.array([[0.0, 0.1], [0.2, 0.0], [1.0, 0.9], [0.9, 1.1]]); y = np.array([0, 0, 1, 1])
with mlflow.start_run() as run:
    mlflow.log_text("hello from the GCP e2e\n", "notes/hello.txt")
    info = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model", input_example=X[:1])
model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
pred = [int(v) for v in model.predict(np.array([[0.0, 0.0], [1.0, 1.0]]))]
with mlflow.start_run() as old:
    mlflow.log_text("to be collected\n", "probe.txt")
mlflow.delete_run(old.info.run_id)
print(json.dumps({"run_id": run.info.run_id, "experiment_id": run.info.experiment_id, "model_uri": info.model_uri,
                  "pred": pred, "old_run_id": old.info.run_id}))
`;

export async function gcsStore(ctx: Ctx): Promise<void> {
  const { report, procs } = ctx;
  const python = path.join(TOOLS_DIR, "venv", "bin", "python");
  const mlflow = path.join(TOOLS_DIR, "venv", "bin", "mlflow");
  const fakeGcs = path.join(TOOLS_DIR, "bin", "fake-gcs-server");
  for (const bin of [python, mlflow, fakeGcs]) if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run scripts/install-tools.sh`);

  const config = gcpConfig();
  const json = synthGcp(config).json as unknown as StackJson;
  fs.writeFileSync(path.join(ctx.runDir, "gcp-cdk.tf.json"), JSON.stringify(json, null, 2));
  const buckets = Object.values((json as any).resource?.google_storage_bucket ?? {}) as { name: string }[];
  const tf = new TerraformValues(json, (expr) => {
    // The bucket's name is in the stack; the database's private IP is assigned at apply time and kept as
    // written: the database rule points every PostgreSQL URI at the local database.
    const m = /^google_storage_bucket\.([\w-]+)\.(name|id)$/.exec(expr);
    if (m) return (json as any).resource.google_storage_bucket[m[1]]?.name;
    if (/^google_sql_database_instance\.[\w-]+\.(private_ip_address|ip_address\.\d+\.ip_address)$/.test(expr)) return `\${${expr}}`;
    return undefined;
  });
  const dep = new LocalDeployment(json, tf, {}, path.join(ctx.runDir, "gcp-mounts"));
  const all = workloads(json);
  const byComponent = (kind: string, component: string) => {
    const found = all.filter((w) => w.kind === kind && w.podLabels["app.kubernetes.io/component"] === component);
    if (found.length !== 1) throw new Error(`expected one ${kind} labelled component=${component}, found ${found.length}`);
    return found[0];
  };
  const jobs = all.filter((w) => w.kind === "Job");
  if (jobs.length !== 1) throw new Error(`expected one Job (the schema migration), found ${jobs.length}`);
  const trackers = all.filter(
    (w) => w.kind === "Deployment" && w.containers.some((c) => [...c.command.command, ...c.command.args].includes("server")),
  );
  if (trackers.length !== 1) throw new Error(`expected one Deployment running mlflow server, found ${trackers.length}`);
  const gcW = byComponent("CronJob", "garbage-collection");

  const pgPort = await freePort();
  const gcsPort = await freePort();
  const trackingPort = await freePort();
  const binaries = { mlflow };
  const trackingPorts = Object.fromEntries(
    Object.keys(one(trackers[0]).command.ports ?? {}).map((k, i) => [k, i === 0 ? trackingPort : 0]),
  );
  for (const k of Object.keys(trackingPorts)) if (trackingPorts[k] === 0) trackingPorts[k] = await freePort();
  const extraEnv = {
    STORAGE_EMULATOR_HOST: { value: `http://${LOOPBACK}:${gcsPort}`, why: "Cloud Storage stand-in (on GKE: storage.googleapis.com)" },
    GOOGLE_CLOUD_PROJECT: { value: config.gcp.projectId, why: "the project (on GKE: from the metadata server)" },
  };
  const pg = postgresRule(LOOPBACK, pgPort);
  // The tracking server's in-cluster Service -> its local port: gc deletes a run's mlflow-artifacts:/ artifacts
  // through the server's artifact API, at the Service the CronJob's MLFLOW_TRACKING_URI names.
  const containerPorts = one(trackers[0]).command.ports ?? {};
  const dnsRules = dep.services
    .filter((svc) => selects(svc.selector, trackers[0].podLabels))
    .flatMap((svc) =>
      svc.ports.flatMap((p) => {
        const name =
          typeof p.targetPort === "string" ? p.targetPort : Object.keys(containerPorts).find((k) => containerPorts[k] === p.targetPort);
        return name && trackingPorts[name] ? [serviceRule(svc, p.port, trackingPorts[name])] : [];
      }),
    );
  const migration = dep.render(jobs[0], one(jobs[0]), { binaries, rules: [pg], extraEnv });
  const tracking = dep.render(trackers[0], one(trackers[0]), { binaries, ports: trackingPorts, rules: [pg], extraEnv });
  const gc = dep.render(gcW, one(gcW), { binaries, rules: [pg, ...dnsRules], extraEnv });
  for (const lp of [migration, tracking, gc]) {
    report.info(`gcp ${lp.name}: ${lp.synthesized.argv.join(" ")}`);
    for (const c of lp.changes) report.info(`  local change ${c.where}: ${c.from} -> ${c.to} (${c.why})`);
  }

  const dest = gsUris(tracking);
  report.check(
    "the GCP tracking server's artifacts destination is the stack's gs:// bucket",
    dest.length === 1 && buckets.some((b) => b.name === dest[0].bucket) && dest[0].prefix === config.artifacts.prefix,
    `${dest.map((d) => `gs://${d.bucket}/${d.prefix}`).join(", ") || "none"}; buckets in the stack: ${buckets.map((b) => b.name).join(", ")}`,
  );
  const { bucket, prefix } = dest[0];
  const gcDest = gsUris(gc);
  report.check(
    "the gc CronJob deletes from the same gs:// destination",
    gcDest.length === 1 && gcDest[0].bucket === bucket && gcDest[0].prefix === prefix,
    gcDest.map((d) => `gs://${d.bucket}/${d.prefix}`).join(", ") || "no gs:// URI in the gc command",
  );

  const db = postgresUris(migration)[0];
  if (!db) throw new Error("the GCP migration Job's command names no PostgreSQL URI");
  const ssl = db.sslmode !== null && !["disable", "allow", "prefer"].includes(db.sslmode);
  // Its own data directory beside the AWS stack's database (startPostgres opens up the folder it is given, not its parent).
  const pgDir = path.join(ctx.runDir, "gcp");
  fs.mkdirSync(pgDir, { recursive: true });
  fs.chmodSync(ctx.runDir, 0o755);
  const postgres: Postgres = await startPostgres(procs, pgDir, {
    port: pgPort,
    database: db.database,
    user: db.user,
    password: db.password,
    ssl,
  });
  const gcs: Gcs = await startGcs(procs, fakeGcs, bucket, config.gcp.projectId, gcsPort);
  report.pass(
    "PostgreSQL and fake-gcs-server as the GCP stack names them",
    `database ${db.database} (sslmode=${db.sslmode}), ${gcs.endpoint}, bucket ${bucket}`,
  );

  const env = (lp: LocalProcess) => ({ PATH: `${path.dirname(python)}:/usr/bin:/bin`, LANG: "C.UTF-8", ...lp.env });
  const mig = await procs.run("gcp-migration-job", migration.argv, { env: env(migration), timeoutMs: 180_000 });
  if (mig.code !== 0)
    throw new Error(`the GCP migration Job's command exited ${mig.code}:\n${tail(path.join(procs.logDir, "gcp-migration-job.log"))}`);
  const proc = procs.start("gcp-tracking-server", tracking.argv, { env: env(tracking) });
  const started = Date.now();
  await waitForHttp(`http://${LOOPBACK}:${trackingPort}/health`, proc, 300_000, 200);
  report.pass(
    "the GCP stack's tracking server is healthy",
    `${LOOPBACK}:${trackingPort} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  const client = await procs.run("gcp-client", [python, "-c", CLIENT], {
    env: { PATH: `${path.dirname(python)}:/usr/bin:/bin`, LANG: "C.UTF-8", MLFLOW_TRACKING_URI: `http://${LOOPBACK}:${trackingPort}` },
    timeoutMs: 300_000,
  });
  const clientLog = path.join(procs.logDir, "gcp-client.log");
  if (client.code !== 0) throw new Error(`the client exited ${client.code}:\n${tail(clientLog)}`);
  const out = JSON.parse(
    fs
      .readFileSync(clientLog, "utf8")
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .pop()!,
  ) as {
    run_id: string;
    experiment_id: string;
    model_uri: string;
    pred: number[];
    old_run_id: string;
  };

  const runObjects = await gcs.list(bucket, `${prefix}/${out.experiment_id}/${out.run_id}/`);
  const everything = await gcs.list(bucket, "");
  report.check(
    "a run's artifacts land in the bucket under the stack's prefix, and nowhere else",
    runObjects.some((o) => o.name.endsWith("/artifacts/notes/hello.txt")) && everything.every((o) => o.name.startsWith(`${prefix}/`)),
    `${runObjects.length} objects under gs://${bucket}/${prefix}/${out.experiment_id}/${out.run_id}/; ${everything.length} in the bucket, all under ${prefix}/`,
  );
  const modelObjects = everything.filter((o) => /\/MLmodel$/.test(o.name));
  report.check(
    "a model logged through the tracking server is stored in the bucket and loaded back from it, and predicts",
    modelObjects.length > 0 && JSON.stringify(out.pred) === "[0,1]",
    `${out.model_uri}; MLmodel files: ${modelObjects.map((o) => o.name).join(", ")}; predictions ${JSON.stringify(out.pred)}`,
  );

  const oldPrefix = `${prefix}/${out.experiment_id}/${out.old_run_id}/`;
  const before = (await gcs.list(bucket, oldPrefix)).length;
  // Time passing, simulated: the run was deleted longer ago than the retention (mlflow.gc.olderThanDays).
  postgres.sql(
    `UPDATE runs SET deleted_time = deleted_time - ${(config.mlflow.gc.olderThanDays + 1) * 86_400_000}::bigint WHERE run_uuid = '${out.old_run_id}'`,
    db.database,
  );
  const r = await procs.run("gcp-gc-cronjob", gc.argv, { env: env(gc), timeoutMs: 180_000 });
  if (r.code !== 0)
    throw new Error(`the GCP gc CronJob's command exited ${r.code}:\n${tail(path.join(procs.logDir, "gcp-gc-cronjob.log"))}`);
  const after = (await gcs.list(bucket, oldPrefix)).length;
  const gone = await request(`http://${LOOPBACK}:${trackingPort}/api/2.0/mlflow/runs/get?run_id=${out.old_run_id}`, { caller: "probe" });
  const kept = (await gcs.list(bucket, `${prefix}/${out.experiment_id}/${out.run_id}/`)).length;
  report.check(
    "gc removed the deleted run and its artifacts from the bucket, and kept the live run's",
    before > 0 && after === 0 && gone.status === 404 && kept === runObjects.length,
    `objects under ${oldPrefix}: ${before} -> ${after}; runs/get: ${gone.status}; live run's objects ${kept}`,
  );
}

if (require.main === module) {
  void (async () => {
    const report = new Report();
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-e2e-gcs-"));
    const procs = new Processes(path.join(runDir, "logs"));
    const ctx: Ctx = { report, procs, runDir, repoRoot: path.resolve(__dirname, "..", "..", ".."), forwarders: [], refusals: {} };
    const title = "GCP stack: tracking server and gc against fake-gcs-server (gs://)";
    report.step(title);
    try {
      await gcsStore(ctx);
    } catch (err) {
      report.fail(title, describe(err));
    } finally {
      await procs.stopAll();
    }
    if (report.failed === 0 && process.env.E2E_KEEP !== "1") fs.rmSync(runDir, { recursive: true, force: true });
    else console.log(`logs in ${path.join(runDir, "logs")}`);
    console.log(`\n${report.summary()}`);
    process.exitCode = report.failed > 0 ? 1 : 0;
  })();
}
