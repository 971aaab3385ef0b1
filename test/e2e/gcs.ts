/**
 * The GCP stack's tracking server and gc against a Cloud Storage stand-in (fake-gcs-server): the GCP fixture
 * environment (test/fixtures/environments.ts) is synthesized, its migration Job's, tracking server
 * Deployment's and gc CronJob's commands are rendered for loopback exactly as for the AWS stack (the same
 * LocalDeployment, the same address rules), with a gs:// artifacts destination. Then a run's artifacts land
 * under the stack's prefix in the emulator, a model logged through the tracking server is loaded back and
 * predicts, and a run deleted longer ago than the retention is removed with its artifacts by gc. Last, the
 * model-retention CronJob's command (N = 2) marks exactly the objects of the versions it does not keep: their
 * Custom-Time, which the bucket's lifecycle rule counts from, and the archive metadata; a second run changes nothing.
 * Then the served model's inference log and drift job (test/e2e/gcs-serving.ts).
 *
 * On GKE the pods reach Cloud Storage with their Workload Identity; here STORAGE_EMULATOR_HOST points
 * google-cloud-storage at the emulator (anonymous credentials), and GOOGLE_CLOUD_PROJECT names the project.
 * Runs as one step of `npm run test:e2e`, or alone: `npm run build && node dist/test/e2e/gcs.js`.
 */
import * as fs from "fs";
import * as path from "path";
import { gcpConfig, synthGcp } from "../helpers/gcp";
import { TOOLS_DIR } from "../helpers/tools";
import { type Ctx } from "./context";
import { LocalDeployment, postgresRule, postgresUris, serviceRule, type LocalProcess } from "./lib/deployment";
import { LOOPBACK, freePort, request, waitForHttp } from "./lib/net";
import { tail } from "./lib/processes";
import { ARCHIVE_TAG } from "../../constructs/model-retention/command";
import { TerraformValues } from "./lib/terraform";
import { selects, workloads, type Workload, type StackJson } from "./lib/workloads";
import { startGcs, type Gcs } from "./services/gcs";
import { gcsServing } from "./gcs-serving";
import { startPostgres, type Postgres } from "./services/postgres";
import { reserveCloudEvents, runCloudEvents, unusedChannelSecret } from "./cloud-events";

/** Every `gs://bucket/prefix` in a rendered process. */
export function gsUris(p: Pick<LocalProcess, "argv" | "env">): { bucket: string; prefix: string }[] {
  const out = new Map<string, { bucket: string; prefix: string }>();
  for (const s of [...p.argv, ...Object.values(p.env)]) {
    for (const m of s.matchAll(/gs:\/\/([a-z0-9._-]+)\/?([^\s,]*)/g)) out.set(m[0], { bucket: m[1], prefix: m[2].replace(/\/$/, "") });
  }
  return [...out.values()];
}

/** A GCP stack's references as the harness resolves them. */
function gcpValues(json: StackJson, first: (expr: string) => string | undefined = () => undefined): TerraformValues {
  return new TerraformValues(json, (expr) => {
    const known = first(expr);
    if (known !== undefined) return known;
    // The bucket's name is in the stack; the database's private IP is assigned at apply time and kept as
    // written: the database rule points every PostgreSQL URI at the local database.
    const m = /^google_storage_bucket\.([\w-]+)\.(name|id)$/.exec(expr);
    if (m) return (json as any).resource.google_storage_bucket[m[1]]?.name;
    if (/^google_sql_database_instance\.[\w-]+\.(private_ip_address|ip_address\.\d+\.ip_address)$/.test(expr)) return `\${${expr}}`;
    return undefined;
  });
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

  // N = 2, as the AWS run's registry section: with five versions, the oldest holding an alias, two are archived.
  const config = gcpConfig({ registry: { retention: { keepVersions: 2 } } });
  const json = synthGcp(config).json as unknown as StackJson;
  fs.writeFileSync(path.join(ctx.runDir, "gcp-cdk.tf.json"), JSON.stringify(json, null, 2));
  const buckets = Object.values((json as any).resource?.google_storage_bucket ?? {}) as { name: string }[];
  // The registry events service (on in the fixture): its port and channel stand-ins, before the commands name them.
  const events = await reserveCloudEvents(config);
  const tf = gcpValues(json, (expr) => events?.resolve(expr));
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
  const retentionW = byComponent("CronJob", "model-retention");

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
  const tracking = dep.render(trackers[0], one(trackers[0]), {
    binaries,
    ports: trackingPorts,
    rules: [pg, ...(events ? [events.rule] : [])],
    extraEnv,
  });
  const gc = dep.render(gcW, one(gcW), { binaries, rules: [pg, ...dnsRules], extraEnv });
  const retention = dep.render(retentionW, one(retentionW), {
    binaries: { "mlflow-platform": path.join(TOOLS_DIR, "venv", "bin", "mlflow-platform") },
    rules: [...dnsRules],
    extraEnv: { STORAGE_EMULATOR_HOST: extraEnv.STORAGE_EMULATOR_HOST },
  });
  for (const lp of [migration, tracking, gc, retention]) {
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

  await gcsRetention(ctx, { json, bucket, prefix, gcs, trackingPort, python, retention, env: env(retention) });
  // The served model: its inference log into the emulator, read back by its drift job (test/e2e/gcs-serving.ts).
  await gcsServing(ctx, {
    gcs,
    bucket,
    artifactPrefix: prefix,
    trackingPort,
    python,
    dnsRules,
    resolve: (j) => gcpValues(j, (expr) => events?.resolve(expr) ?? unusedChannelSecret(expr)),
  });
  if (events)
    await runCloudEvents(ctx, events, {
      cloud: "gcp",
      json,
      tf,
      config,
      dnsRules,
      binary: path.join(TOOLS_DIR, "venv", "bin", "mlflow-platform"),
      env: (vars) => ({ PATH: `${path.dirname(python)}:/usr/bin:/bin`, LANG: "C.UTF-8", ...vars }),
      model: "retention-gcp",
    });
}

/** The versions the retention step registers, each from its own run with a small model directory. */
const RETENTION_CLIENT = String.raw`
import json, mlflow
from mlflow import MlflowClient
c = MlflowClient()
c.create_registered_model("retention-gcp")
mlflow.set_experiment("gcp-retention")
dirs = []
for i in range(1, 6):
    with mlflow.start_run() as r:
        mlflow.log_text(f"retention {i}\n", "model/MLmodel")
        mlflow.log_text(f"weights {i}\n", "model/model.pkl")
    c.create_model_version("retention-gcp", f"{r.info.artifact_uri}/model", run_id=r.info.run_id)
    dirs.append(f"{r.info.experiment_id}/{r.info.run_id}/artifacts/model/")
c.set_registered_model_alias("retention-gcp", "champion", "1")
print(json.dumps(dirs))
`;
import { runStandaloneStep } from "./lib/standalone";

/**
 * The model-retention CronJob's synthesized command against the emulator: with N = 2 and five versions (version 1
 * holding an alias), exactly the objects of versions 2 and 3 get a Custom-Time and the archive metadata, which the
 * bucket's `daysSinceCustomTime` rule acts on; a dry run and a second run change nothing.
 */
async function gcsRetention(
  ctx: Ctx,
  i: {
    json: StackJson;
    bucket: string;
    prefix: string;
    gcs: Gcs;
    trackingPort: number;
    python: string;
    retention: LocalProcess;
    env: Record<string, string>;
  },
): Promise<void> {
  const { report, procs } = ctx;
  const dest = gsUris(i.retention);
  report.check(
    "the GCP retention CronJob marks objects in the tracking server's gs:// destination",
    dest.length === 1 && dest[0].bucket === i.bucket && dest[0].prefix === i.prefix,
    dest.map((d) => `gs://${d.bucket}/${d.prefix}`).join(", ") || "no gs:// URI in the retention command",
  );
  const rules = (Object.values((i.json as any).resource.google_storage_bucket)[0] as any).lifecycle_rule as {
    action: any;
    condition: any;
  }[];
  const archiveRule = rules.find((r) => r.condition.days_since_custom_time !== undefined);
  report.check(
    "the bucket's lifecycle moves objects under the prefix by their Custom-Time (daysSinceCustomTime)",
    archiveRule !== undefined && JSON.stringify(archiveRule.condition.matches_prefix) === JSON.stringify([`${i.prefix}/`]),
    JSON.stringify(archiveRule ?? "no rule"),
  );

  const client = await procs.run("gcp-retention-client", [i.python, "-c", RETENTION_CLIENT], {
    env: { PATH: `${path.dirname(i.python)}:/usr/bin:/bin`, LANG: "C.UTF-8", MLFLOW_TRACKING_URI: `http://${LOOPBACK}:${i.trackingPort}` },
    timeoutMs: 300_000,
  });
  const clientLog = path.join(procs.logDir, "gcp-retention-client.log");
  if (client.code !== 0) throw new Error(`the retention client exited ${client.code}:\n${tail(clientLog)}`);
  const dirs = (
    JSON.parse(
      fs
        .readFileSync(clientLog, "utf8")
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("["))
        .pop()!,
    ) as string[]
  ).map((d) => `${i.prefix}/${d}`);

  // Every object's Custom-Time and metadata, from the emulator's JSON API.
  const marks = async (): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    let token: string | undefined;
    do {
      const q = new URLSearchParams({ prefix: `${i.prefix}/`, ...(token ? { pageToken: token } : {}) });
      const res = await request(`${i.gcs.endpoint}/storage/v1/b/${encodeURIComponent(i.bucket)}/o?${q}`, { caller: "probe" });
      if (res.status !== 200) throw new Error(`listing gs://${i.bucket} answered ${res.status}: ${res.body.slice(0, 300)}`);
      const page = JSON.parse(res.body) as {
        items?: { name: string; customTime?: string; metadata?: Record<string, string> }[];
        nextPageToken?: string;
      };
      for (const o of page.items ?? []) out[o.name] = JSON.stringify({ customTime: o.customTime ?? null, metadata: o.metadata ?? {} });
      token = page.nextPageToken;
    } while (token);
    return out;
  };
  const marked = (snap: Record<string, string>) =>
    Object.keys(snap)
      .filter((k) => {
        const m = JSON.parse(snap[k]) as { customTime: string | null; metadata: Record<string, string> };
        return m.customTime !== null && m.metadata[ARCHIVE_TAG.key] === ARCHIVE_TAG.value;
      })
      .sort();
  const runJob = async (name: string, extra: string[] = []) => {
    const r = await procs.run(name, [...i.retention.argv, ...extra], { env: i.env, timeoutMs: 180_000 });
    if (r.code !== 0)
      throw new Error(`the GCP retention CronJob's command exited ${r.code}:\n${tail(path.join(procs.logDir, `${name}.log`))}`);
    return r.output
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("retention:"))
      .join(" / ");
  };

  const before = await marks();
  const dry = await runJob("gcp-retention-dry-run", ["--dry-run"]);
  const afterDry = await marks();
  report.check(
    "the GCP retention command's --dry-run lists what it would mark and changes nothing",
    JSON.stringify(afterDry) === JSON.stringify(before) && /would tag 4 objects/.test(dry),
    dry,
  );
  const first = await runJob("gcp-retention-cronjob");
  const afterFirst = await marks();
  const expected = [dirs[1], dirs[2]].flatMap((d) => Object.keys(afterFirst).filter((k) => k.startsWith(d))).sort();
  const untouched = Object.keys(before)
    .filter((k) => !expected.includes(k))
    .every((k) => afterFirst[k] === before[k]);
  report.check(
    `the GCP retention command sets Custom-Time and ${ARCHIVE_TAG.key}=${ARCHIVE_TAG.value} on exactly the objects of versions 2 and 3 (old, no alias)`,
    expected.length === 4 && JSON.stringify(marked(afterFirst)) === JSON.stringify(expected) && untouched,
    `${first}; marked: ${marked(afterFirst).join(", ")}; ${Object.keys(afterFirst).length} objects compared with before the run`,
  );
  const second = await runJob("gcp-retention-cronjob-again");
  report.check(
    "a second GCP retention run changes nothing (a Custom-Time is never moved)",
    JSON.stringify(await marks()) === JSON.stringify(afterFirst) && /tagged 0 objects/.test(second),
    second,
  );
}

if (require.main === module)
  runStandaloneStep(
    "GCP stack: tracking server, gc, retention, model serving and drift against fake-gcs-server (gs://)",
    "mlflow-e2e-gcs-",
    gcsStore,
  );
