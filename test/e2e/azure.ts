/**
 * The Azure stack's tracking server and gc against a Blob Storage stand-in (Azurite): the Azure fixture
 * environment (test/fixtures/environments.ts) is synthesized, its migration Job's, tracking server
 * Deployment's and gc CronJob's commands are rendered for loopback exactly as for the AWS and GCP stacks (the
 * same LocalDeployment, the same address rules), with their wasbs:// artifacts destination. Then a run's
 * artifacts land under the stack's prefix in the stack's storage account and container, a model logged
 * through the tracking server is loaded back and served by `mlflow models serve` from it, and a run deleted
 * longer ago than the retention is removed with its blobs by gc while a live run's stay.
 *
 * On AKS the pods labelled `azure.workload.identity/use: "true"` get Workload Identity from the cluster's
 * webhook (AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE, ...), which MLflow's Azure repository uses through
 * DefaultAzureCredential. Here those pods, and only those, get AZURE_STORAGE_CONNECTION_STRING instead: the
 * account the stack names, a key made for the run, Azurite's endpoint. Clients get nothing but the tracking
 * URI (the server proxies every artifact).
 * Runs as one step of `npm run test:e2e`, or alone: `npm run build && node dist/test/e2e/azure.js`.
 */
import * as fs from "fs";
import * as path from "path";
import { azureConfig, synthAzure } from "../helpers/azure";
import { TOOLS_DIR } from "../helpers/tools";
import { type Ctx } from "./context";
import { LocalDeployment, postgresRule, postgresUris, serviceRule, type LocalProcess } from "./lib/deployment";
import { LOOPBACK, freePort, request, waitForHttp } from "./lib/net";
import { tail } from "./lib/processes";
import { TerraformValues } from "./lib/terraform";
import { one, selects, workloads, type Workload, type StackJson } from "./lib/workloads";
import { azuriteBlobMain, startAzurite, type Azurite } from "./services/azurite";
import { startPostgres, type Postgres } from "./services/postgres";

/** The pod label AKS's Workload Identity webhook acts on. */
export const WORKLOAD_IDENTITY_LABEL = "azure.workload.identity/use";
/** The ServiceAccount annotation naming the identity's client id. */
export const WORKLOAD_IDENTITY_CLIENT_ID = "azure.workload.identity/client-id";

/** Every `wasbs://<container>@<account>.blob.core.windows.net/<prefix>` in a rendered process. */
export function wasbsUris(p: Pick<LocalProcess, "argv" | "env">): { container: string; account: string; prefix: string }[] {
  const out = new Map<string, { container: string; account: string; prefix: string }>();
  for (const s of [...p.argv, ...Object.values(p.env)]) {
    for (const m of s.matchAll(/wasbs:\/\/([a-z0-9-]+)@([a-z0-9]+)\.blob\.core\.windows\.net\/?([^\s,]*)/g))
      out.set(m[0], { container: m[1], account: m[2], prefix: m[3].replace(/\/$/, "") });
  }
  return [...out.values()];
}

/** What the step needs of an Azure stack: its JSON and the configuration values the checks compare with. */
export interface AzureStackUnderTest {
  readonly json: StackJson;
  /** artifacts.prefix */
  readonly prefix: string;
  /** mlflow.gc.olderThanDays */
  readonly gcOlderThanDays: number;
}

/** The Azure fixture environment's stack. */
export function azureFixtureStack(): AzureStackUnderTest {
  const config = azureConfig();
  return {
    json: synthAzure(config).json as unknown as StackJson,
    prefix: config.artifacts.prefix,
    gcOlderThanDays: config.mlflow.gc.olderThanDays,
  };
}

const one1 = (w: Workload) => {
  if (w.containers.length !== 1) throw new Error(`${w.address} has ${w.containers.length} containers; expected one`);
  if (w.initContainers.length > 0) throw new Error(`${w.address} has init containers, which the harness does not run`);
  return w.containers[0];
};

/** The ServiceAccount a workload's pods run as (its name resolved from the stack). */
function serviceAccountOf(w: Workload, tf: TerraformValues): string | undefined {
  const spec = one(w.raw.spec);
  const template = w.kind === "CronJob" ? one(one(one(spec?.job_template)?.spec)?.template) : one(spec?.template);
  const name = one(template?.spec)?.service_account_name as string | undefined;
  return name === undefined ? undefined : tf.string(name);
}

/** The client side, in the tools' Python: a run with an artifact and a model, the model loaded back, a second run deleted. */
const CLIENT = String.raw`
import json, sys
import mlflow, numpy as np
from sklearn.linear_model import LogisticRegression
mlflow.set_experiment("azure-e2e")
X = np.array([[0.0, 0.1], [0.2, 0.0], [1.0, 0.9], [0.9, 1.1]]); y = np.array([0, 0, 1, 1])
with mlflow.start_run() as run:
    mlflow.log_text("hello from the Azure e2e\n", "notes/hello.txt")
    info = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model", input_example=X[:1])
model = mlflow.pyfunc.load_model(info.model_uri)
pred = [int(v) for v in model.predict(np.array([[0.0, 0.0], [1.0, 1.0]]))]
with mlflow.start_run() as old:
    mlflow.log_text("to be collected\n", "probe.txt")
mlflow.delete_run(old.info.run_id)
print(json.dumps({"run_id": run.info.run_id, "experiment_id": run.info.experiment_id, "model_uri": info.model_uri,
                  "model_id": info.model_id, "pred": pred, "old_run_id": old.info.run_id}))
`;
import { runStandaloneStep } from "./lib/standalone";

export async function azureBlobStore(ctx: Ctx, stack: AzureStackUnderTest = azureFixtureStack()): Promise<void> {
  const { report, procs } = ctx;
  const python = path.join(TOOLS_DIR, "venv", "bin", "python");
  const mlflow = path.join(TOOLS_DIR, "venv", "bin", "mlflow");
  const azuriteMain = azuriteBlobMain(TOOLS_DIR);
  for (const bin of [python, mlflow, azuriteMain])
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run scripts/install-tools.sh`);

  const { json, prefix: configPrefix } = stack;
  fs.writeFileSync(path.join(ctx.runDir, "azure-cdk.tf.json"), JSON.stringify(json, null, 2));
  const resources = (type: string) => Object.values((json as any).resource?.[type] ?? {}) as Record<string, any>[];
  const accounts = resources("azurerm_storage_account").map((a) => String(a.name));
  const containers = resources("azurerm_storage_container").map((c) => String(c.name));
  const tf = new TerraformValues(json, (expr) => {
    // Names are in the stack; the database's address is assigned at apply time and kept as written: the
    // database rule points every PostgreSQL URI at the local database.
    const m = /^(azurerm_storage_account|azurerm_storage_container)\.([\w-]+)\.name$/.exec(expr);
    if (m) return (json as any).resource[m[1]][m[2]]?.name;
    if (/^azurerm_postgresql_flexible_server\.[\w-]+\.fqdn$/.test(expr)) return `\${${expr}}`;
    return undefined;
  });
  const dep = new LocalDeployment(json, tf, {}, path.join(ctx.runDir, "azure-mounts"));
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

  // Workload Identity as AKS would give it: the label on the pod, the client id on its ServiceAccount, and a
  // federated credential trusting that ServiceAccount's token.
  const accountsAnnotated = resources("kubernetes_service_account_v1")
    .concat(resources("kubernetes_service_account"))
    .map((sa) => one(sa.metadata))
    .map((m) => ({
      name: tf.string(String(m?.name)),
      namespace: m?.namespace === undefined ? undefined : tf.string(String(m.namespace)),
      annotations: (m?.annotations ?? {}) as Record<string, string>,
    }))
    .filter((m) => m.annotations[WORKLOAD_IDENTITY_CLIENT_ID] !== undefined);
  const federated = resources("azurerm_federated_identity_credential").map((f) => String(f.subject));
  const identityOf = (w: Workload) => {
    const sa = serviceAccountOf(w, tf);
    const md = accountsAnnotated.find((m) => m.name === sa && (m.namespace ?? w.namespace) === w.namespace);
    return {
      labelled: w.podLabels[WORKLOAD_IDENTITY_LABEL] === "true",
      serviceAccount: sa,
      clientId: md ? String(md.annotations[WORKLOAD_IDENTITY_CLIENT_ID]) : undefined,
      federated: federated.includes(`system:serviceaccount:${w.namespace}:${sa}`),
    };
  };
  for (const [what, w] of [
    ["tracking server Deployment", trackers[0]],
    ["gc CronJob", gcW],
  ] as const) {
    const id = identityOf(w);
    report.check(
      `the ${what}'s pods run with the stack's Workload Identity (label, annotated ServiceAccount, federated credential)`,
      id.labelled && id.clientId !== undefined && id.federated,
      `${WORKLOAD_IDENTITY_LABEL}=${w.podLabels[WORKLOAD_IDENTITY_LABEL] ?? "(unset)"}; ServiceAccount ${id.serviceAccount ?? "(default)"} client-id ${id.clientId ?? "(none)"}; federated subject ${id.federated ? "present" : "missing"} (subjects: ${federated.join(", ") || "none"})`,
    );
  }

  // Unlabelled, the server would reach the store with no identity on AKS (here: no stand-in credentials, and
  // DefaultAzureCredential retries until the client times out): stop with the reason instead.
  if (!identityOf(trackers[0]).labelled)
    throw new Error(
      `the tracking server's pods are not labelled ${WORKLOAD_IDENTITY_LABEL}: "true": on AKS it would have no identity for the store`,
    );

  const pgPort = await freePort();
  const azuritePort = await freePort();
  const trackingPort = await freePort();
  const binaries = { mlflow };
  const trackingPorts = Object.fromEntries(
    Object.keys(one1(trackers[0]).command.ports ?? {}).map((k, i) => [k, i === 0 ? trackingPort : 0]),
  );
  for (const k of Object.keys(trackingPorts)) if (trackingPorts[k] === 0) trackingPorts[k] = await freePort();
  const pg = postgresRule(LOOPBACK, pgPort);
  // The tracking server's in-cluster Service -> its local port: gc deletes a run's mlflow-artifacts:/ artifacts
  // through the server's artifact API, at the Service the CronJob's MLFLOW_TRACKING_URI names.
  const containerPorts = one1(trackers[0]).command.ports ?? {};
  const dnsRules = dep.services
    .filter((svc) => selects(svc.selector, trackers[0].podLabels))
    .flatMap((svc) =>
      svc.ports.flatMap((p) => {
        const name =
          typeof p.targetPort === "string" ? p.targetPort : Object.keys(containerPorts).find((k) => containerPorts[k] === p.targetPort);
        return name && trackingPorts[name] ? [serviceRule(svc, p.port, trackingPorts[name])] : [];
      }),
    );

  // The destination, read before anything is started: it names the account and container Azurite must serve.
  const preview = dep.render(trackers[0], one1(trackers[0]), { binaries, ports: trackingPorts, rules: [pg] });
  const dest = wasbsUris(preview);
  report.check(
    "the Azure tracking server's artifacts destination is the stack's container, storage account and prefix (wasbs://)",
    dest.length === 1 && accounts.includes(dest[0].account) && containers.includes(dest[0].container) && dest[0].prefix === configPrefix,
    `${dest.map((d) => `wasbs://${d.container}@${d.account}.blob.core.windows.net/${d.prefix}`).join(", ") || "none"}; in the stack: accounts ${accounts.join(", ") || "none"}, containers ${containers.join(", ") || "none"}, prefix ${configPrefix}`,
  );
  if (dest.length !== 1) throw new Error("no single wasbs:// destination in the tracking server's command");
  // The blobs are looked for under the configured prefix, not the one the command names: a command with another
  // prefix fails the checks below too.
  const { container, account } = dest[0];
  const prefix = configPrefix;
  const secretsInCommand = Object.keys(preview.env).filter((k) => /^AZURE_STORAGE_(CONNECTION_STRING|ACCESS_KEY|KEY|SAS_TOKEN)$/.test(k));
  report.check(
    "the synthesized tracking server carries no storage key or connection string (it authenticates as its identity)",
    secretsInCommand.length === 0,
    secretsInCommand.length ? `set: ${secretsInCommand.join(", ")}` : `env: ${Object.keys(preview.synthesized.env).join(", ")}`,
  );

  const azuriteDir = path.join(ctx.runDir, "azurite");
  const azurite: Azurite = await startAzurite(procs, azuriteMain, account, container, azuritePort, azuriteDir);
  // Only the pods AKS would give an identity get the stand-in's credentials.
  const identityEnv = (w: Workload): Record<string, { value: string; why: string }> =>
    identityOf(w).labelled
      ? {
          AZURE_STORAGE_CONNECTION_STRING: {
            value: azurite.connectionString,
            why: `Blob Storage stand-in for ${account} (on AKS: Workload Identity, DefaultAzureCredential)`,
          },
        }
      : {};
  const migration = dep.render(jobs[0], one1(jobs[0]), { binaries, rules: [pg], extraEnv: identityEnv(jobs[0]) });
  const tracking = dep.render(trackers[0], one1(trackers[0]), {
    binaries,
    ports: trackingPorts,
    rules: [pg],
    extraEnv: identityEnv(trackers[0]),
  });
  const gc = dep.render(gcW, one1(gcW), { binaries, rules: [pg, ...dnsRules], extraEnv: identityEnv(gcW) });
  const secret = (s: string) => s.split(azurite.connectionString).join("<connection string>");
  for (const lp of [migration, tracking, gc]) {
    report.info(`azure ${lp.name}: ${lp.synthesized.argv.join(" ")}`);
    for (const c of lp.changes) report.info(`  local change ${c.where}: ${c.from} -> ${secret(c.to)} (${c.why})`);
  }
  const gcDest = wasbsUris(gc);
  report.check(
    "the gc CronJob deletes from the same wasbs:// destination",
    gcDest.length === 1 && gcDest[0].container === container && gcDest[0].account === account && gcDest[0].prefix === dest[0].prefix,
    gcDest.map((d) => `wasbs://${d.container}@${d.account}.blob.core.windows.net/${d.prefix}`).join(", ") ||
      "no wasbs:// URI in the gc command",
  );

  const db = postgresUris(migration)[0];
  if (!db) throw new Error("the Azure migration Job's command names no PostgreSQL URI");
  const ssl = db.sslmode !== null && !["disable", "allow", "prefer"].includes(db.sslmode);
  // Its own data directory beside the other stacks' databases (startPostgres opens up the folder it is given, not its parent).
  const pgDir = path.join(ctx.runDir, "azure");
  fs.mkdirSync(pgDir, { recursive: true });
  fs.chmodSync(ctx.runDir, 0o755);
  const postgres: Postgres = await startPostgres(procs, pgDir, {
    port: pgPort,
    database: db.database,
    user: db.user,
    password: db.password,
    ssl,
  });
  report.pass(
    "PostgreSQL and Azurite as the Azure stack names them",
    `database ${db.database} (sslmode=${db.sslmode}), ${azurite.blobEndpoint}, container ${container}`,
  );

  const env = (lp: LocalProcess) => ({ PATH: `${path.dirname(python)}:/usr/bin:/bin`, LANG: "C.UTF-8", ...lp.env });
  const mig = await procs.run("azure-migration-job", migration.argv, { env: env(migration), timeoutMs: 180_000 });
  if (mig.code !== 0)
    throw new Error(`the Azure migration Job's command exited ${mig.code}:\n${tail(path.join(procs.logDir, "azure-migration-job.log"))}`);
  const proc = procs.start("azure-tracking-server", tracking.argv, { env: env(tracking) });
  const started = Date.now();
  await waitForHttp(`http://${LOOPBACK}:${trackingPort}/health`, proc, 300_000, 200);
  report.pass(
    "the Azure stack's tracking server is healthy",
    `${LOOPBACK}:${trackingPort} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  const trackingUri = `http://${LOOPBACK}:${trackingPort}`;
  const home = path.join(ctx.runDir, "azure-client-home");
  fs.mkdirSync(home, { recursive: true });
  const clientEnv = { PATH: `${path.dirname(python)}:/usr/bin:/bin`, LANG: "C.UTF-8", HOME: home, MLFLOW_TRACKING_URI: trackingUri };
  const client = await procs.run("azure-client", [python, "-c", CLIENT], { env: clientEnv, cwd: home, timeoutMs: 300_000 });
  const clientLog = path.join(procs.logDir, "azure-client.log");
  if (client.code !== 0) throw new Error(`the client exited ${client.code}:\n${tail(clientLog)}`);
  const out = JSON.parse(
    fs
      .readFileSync(clientLog, "utf8")
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .pop()!,
  ) as { run_id: string; experiment_id: string; model_uri: string; model_id: string; pred: number[]; old_run_id: string };

  const runBlobs = await azurite.list(container, `${prefix}/${out.experiment_id}/${out.run_id}/`);
  const everything = await azurite.list(container, "");
  report.check(
    "a run's artifacts land in the stack's container under the stack's prefix, and nowhere else",
    runBlobs.some((o) => o.name === `${prefix}/${out.experiment_id}/${out.run_id}/artifacts/notes/hello.txt`) &&
      everything.length > 0 &&
      everything.every((o) => o.name.startsWith(`${prefix}/`)),
    `${runBlobs.length} blobs under ${account}/${container}/${prefix}/${out.experiment_id}/${out.run_id}/; ${everything.length} in the container, ${everything.filter((o) => !o.name.startsWith(`${prefix}/`)).length} outside ${prefix}/; containers in the account: ${(await azurite.containers()).join(", ")}`,
  );
  const modelBlobs = everything.filter((o) => o.name.endsWith("/MLmodel"));
  report.check(
    "a model logged through the tracking server is stored in the container and loaded back from it, and predicts",
    modelBlobs.some((o) => o.name.startsWith(`${prefix}/${out.experiment_id}/models/${out.model_id}/artifacts/`)) &&
      JSON.stringify(out.pred) === "[0,1]",
    `${out.model_uri}; MLmodel blobs: ${modelBlobs.map((o) => o.name).join(", ")}; predictions ${JSON.stringify(out.pred)}`,
  );

  // The model served: `mlflow models serve` downloads it through the tracking server (no storage credentials).
  const servePort = await freePort();
  const serveStarted = Date.now();
  const server = procs.start(
    "azure-model-server",
    [mlflow, "models", "serve", "-m", out.model_uri, "--env-manager", "local", "-h", LOOPBACK, "-p", String(servePort), "-w", "1"],
    { env: clientEnv, cwd: home },
  );
  await waitForHttp(`http://${LOOPBACK}:${servePort}/ping`, server, 180_000, 200);
  const inv = await request(`http://${LOOPBACK}:${servePort}/invocations`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      inputs: [
        [0.0, 0.0],
        [1.0, 1.0],
      ],
    }),
    caller: "probe",
  });
  const served = inv.status === 200 ? (JSON.parse(inv.body) as { predictions: number[] }).predictions.map(Number) : [];
  report.check(
    "mlflow models serve serves the model from the container (through the tracking server) and predicts",
    JSON.stringify(served) === "[0,1]",
    `${out.model_uri} up in ${((Date.now() - serveStarted) / 1000).toFixed(1)} s; POST /invocations ${inv.status}: ${inv.body.slice(0, 200)}`,
  );
  await procs.stop(server);

  const oldPrefix = `${prefix}/${out.experiment_id}/${out.old_run_id}/`;
  const before = (await azurite.list(container, oldPrefix)).length;
  // Time passing, simulated: the run was deleted longer ago than the retention (mlflow.gc.olderThanDays).
  postgres.sql(
    `UPDATE runs SET deleted_time = deleted_time - ${(stack.gcOlderThanDays + 1) * 86_400_000}::bigint WHERE run_uuid = '${out.old_run_id}'`,
    db.database,
  );
  const r = await procs.run("azure-gc-cronjob", gc.argv, { env: env(gc), timeoutMs: 180_000 });
  if (r.code !== 0)
    throw new Error(`the Azure gc CronJob's command exited ${r.code}:\n${tail(path.join(procs.logDir, "azure-gc-cronjob.log"))}`);
  const after = (await azurite.list(container, oldPrefix)).length;
  const gone = await request(`${trackingUri}/api/2.0/mlflow/runs/get?run_id=${out.old_run_id}`, { caller: "probe" });
  const kept = (await azurite.list(container, `${prefix}/${out.experiment_id}/${out.run_id}/`)).length;
  report.check(
    "gc removed the deleted run and its blobs from the container, and kept the live run's",
    before > 0 && after === 0 && gone.status === 404 && kept === runBlobs.length,
    `blobs under ${oldPrefix}: ${before} -> ${after}; runs/get: ${gone.status}; live run's blobs ${kept} of ${runBlobs.length}`,
  );
}

if (require.main === module)
  runStandaloneStep("Azure stack: tracking server, model served and gc against Azurite (wasbs://)", "mlflow-e2e-azure-", azureBlobStore);
