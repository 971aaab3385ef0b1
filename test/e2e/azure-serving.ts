/**
 * The Azure stack's model serving against a Blob Storage stand-in (Azurite): the Azure fixture environment (a
 * released iris-classifier, inference log and drift on) is synthesized and the model server Deployment's and the
 * drift CronJob's commands are rendered for loopback exactly as for the AWS stack (the same LocalDeployment, the same
 * address rules). A model trained by examples/train.py is registered as version 1 in a local MLflow server whose
 * artifacts go to the stack's wasbs:// destination in Azurite; its files stand in for the image's /opt/model. Rows
 * POSTed to /predict land as records under `inference-logs/model=<m>/version=<v>/` of the stack's container and
 * nowhere else; the drift command reads them back and logs a monitoring run in the tracking server.
 *
 * On AKS the server's and the drift job's pods (labelled `azure.workload.identity/use`) get Workload Identity, each its
 * own managed identity; here those pods, and only those, get AZURE_STORAGE_CONNECTION_STRING instead: the stack's
 * account, a key made for the run, Azurite's endpoint.
 * Runs as one step of `npm run test:e2e`, or alone: `npm run build && node dist/test/e2e/azure-serving.js`.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { azureConfig, synthAzure } from "../helpers/azure";
import { TOOLS_DIR } from "../helpers/tools";
import { INFERENCE_LOG_PREFIX } from "../../config/inference";
import { type Ctx } from "./context";
import { LocalDeployment, serviceRule, type AddressRule } from "./lib/deployment";
import { LOOPBACK, freePort, json as jsonRequest, request, waitFor, waitForHttp } from "./lib/net";
import { tail } from "./lib/processes";
import { TerraformValues } from "./lib/terraform";
import { unusedChannelSecret } from "./cloud-events";
import { one as only, selects, workloads, type StackJson, type Workload } from "./lib/workloads";
import { promSum } from "./workflow";
import { WORKLOAD_IDENTITY_CLIENT_ID, WORKLOAD_IDENTITY_LABEL } from "./azure";

const MODEL = "iris-classifier";
const FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

const single = (w: Workload) => {
  if (w.containers.length !== 1) throw new Error(`${w.address} has ${w.containers.length} containers; expected one`);
  return w.containers[0];
};

/** Creates the container, trains the example model, registers it and downloads its files into argv[3]. */
const CLIENT = String.raw`
import json, os, subprocess, sys
import mlflow
from azure.storage.blob import BlobServiceClient
BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"]).create_container(sys.argv[1])
out = subprocess.run([sys.executable, sys.argv[2], "--epochs", "20"], check=True, capture_output=True, text=True).stdout
trained = json.loads(out.strip().splitlines()[-1])
mv = mlflow.register_model(trained["model_uri"], sys.argv[4])
mlflow.artifacts.download_artifacts(f"models:/{sys.argv[4]}/{mv.version}", dst_path=sys.argv[3])
print(json.dumps({"version": mv.version, "run_id": trained["run_id"]}))
`;

/** Every blob of the container and, for the log's, its records (gzip JSON lines), as JSON into argv[2]. */
const READER = String.raw`
import gzip, json, os, sys
from azure.storage.blob import BlobServiceClient
c = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"]).get_container_client(sys.argv[1])
out = {}
for n in c.list_blob_names():
    body = c.download_blob(n, decompress=False).readall() if n.endswith(".jsonl.gz") else b""
    out[n] = gzip.decompress(body).decode() if body else ""
json.dump(out, open(sys.argv[2], "w"))
`;
import { runStandaloneStep } from "./lib/standalone";

export async function azureServing(ctx: Ctx): Promise<void> {
  const { report, procs } = ctx;
  const python = path.join(TOOLS_DIR, "venv", "bin", "python");
  const mlflow = path.join(TOOLS_DIR, "venv", "bin", "mlflow");
  const platform = path.join(TOOLS_DIR, "venv", "bin", "mlflow-platform");
  const azurite = path.join(TOOLS_DIR, "azurite", "node_modules", "azurite", "dist", "src", "blob", "main.js");
  for (const bin of [python, mlflow, platform, azurite])
    if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run scripts/install-tools.sh`);

  // The fixture as it is (release, logging, drift), flushing every second and without a caller limit for the batch.
  const config = azureConfig({
    serving: { models: { [MODEL]: { inferenceLog: { flushSeconds: 1 }, callerRate: 1000, callerBurst: 1000 } } },
  });
  const release = config.serving.releases[MODEL];
  if (!release || !config.serving.models[MODEL]?.inferenceLog.enabled)
    throw new Error(`the Azure fixture's ${MODEL} has no release or no inference log`);
  const json = synthAzure(config).json as unknown as StackJson;
  fs.writeFileSync(path.join(ctx.runDir, "azure-serving-cdk.tf.json"), JSON.stringify(json, null, 2));
  // The fixture runs the registry events service too, which this step does not start: its channel secret stands in.
  const tf = new TerraformValues(json, unusedChannelSecret);
  const dep = new LocalDeployment(json, tf, {}, path.join(ctx.runDir, "azure-serving-mounts"));
  const all = workloads(json);
  const server = all.filter((w) => w.kind === "Deployment" && w.podLabels["mlflow-platform/model"] === MODEL);
  const drift = all.filter((w) => w.kind === "CronJob" && w.podLabels["app.kubernetes.io/component"] === "drift-job");
  const trackers = all.filter(
    (w) => w.kind === "Deployment" && w.containers.some((c) => [...c.command.command, ...c.command.args].includes("server")),
  );
  if (server.length !== 1 || drift.length !== 1 || trackers.length !== 1)
    throw new Error(
      `expected the ${MODEL} server, its drift CronJob and one tracking server, found ${server.length}, ${drift.length} and ${trackers.length}`,
    );

  // Workload Identity as AKS would give it: the label on the pod, the client id on its ServiceAccount, a federated
  // credential trusting that ServiceAccount's token, and a role of its own.
  const resources = (type: string) => Object.values((json as any).resource?.[type] ?? {}) as Record<string, any>[];
  const subjects = resources("azurerm_federated_identity_credential").map((f) => String(f.subject));
  const identityOf = (w: Workload) => {
    const spec = only(w.raw.spec);
    const template = w.kind === "CronJob" ? only(only(only(spec?.job_template)?.spec)?.template) : only(spec?.template);
    const sa = tf.string(String(only(template?.spec)?.service_account_name));
    const account = resources("kubernetes_service_account_v1")
      .map((a) => only(a.metadata))
      .find((md) => tf.string(String(md?.name)) === sa && tf.string(String(md?.namespace)) === w.namespace);
    return {
      labelled: w.podLabels[WORKLOAD_IDENTITY_LABEL] === "true",
      clientId: account?.annotations?.[WORKLOAD_IDENTITY_CLIENT_ID] as string | undefined,
      federated: subjects.some((s) => s === `system:serviceaccount:${w.namespace}:${account?.name}`),
    };
  };
  for (const [what, w] of [
    ["model server", server[0]],
    ["drift CronJob", drift[0]],
  ] as const) {
    const id = identityOf(w);
    report.check(
      `the ${what}'s pods run with a Workload Identity of their own (label, annotated ServiceAccount, federated credential)`,
      id.labelled && id.clientId !== undefined && id.federated,
      `${WORKLOAD_IDENTITY_LABEL}=${w.podLabels[WORKLOAD_IDENTITY_LABEL] ?? "(unset)"}; client-id ${id.clientId ?? "(none)"}; federated: ${id.federated}`,
    );
  }

  // The store the server names: Azurite must serve that account and container.
  const serverCommand = single(server[0]).command;
  const args = serverCommand.args;
  const flag = (f: string) => (args.includes(f) ? args[args.indexOf(f) + 1] : undefined);
  const destination = flag("--inference-log-destination");
  const logPrefix = flag("--inference-log-prefix");
  const m = /^wasbs:\/\/([a-z0-9-]+)@([a-z0-9]+)\.blob\.core\.windows\.net$/.exec(destination ?? "");
  report.check(
    "the model server logs to the stack's artifact container (wasbs://) under the inference log's prefix",
    m !== null && logPrefix === INFERENCE_LOG_PREFIX,
    `--inference-log-destination ${destination ?? "(none)"} --inference-log-prefix ${logPrefix ?? "(none)"}`,
  );
  if (!m) throw new Error("the model server's command names no wasbs:// inference log destination");
  const [, container, account] = m;
  const tracker = single(trackers[0]).command;
  const artifacts = [...tracker.command, ...tracker.args].map((a) => /^wasbs:\/\/[^/]+\/(.+)$/.exec(a)).find(Boolean);
  if (!artifacts) throw new Error("the tracking server's command names no wasbs:// artifacts destination");
  const trackerUri = artifacts[0];
  const artifactPrefix = artifacts[1];

  const [azuritePort, trackingPort, httpPort, adminPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const key = crypto.randomBytes(64).toString("base64");
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${key};BlobEndpoint=http://${LOOPBACK}:${azuritePort}/${account};`;
  // Only the pods AKS would give an identity get the stand-in's credentials.
  const identityEnv = (w: Workload): Record<string, { value: string; why: string }> =>
    w.podLabels[WORKLOAD_IDENTITY_LABEL] === "true"
      ? { AZURE_STORAGE_CONNECTION_STRING: { value: connectionString, why: `Azurite, account ${account} (on AKS: Workload Identity)` } }
      : {};
  const azDir = path.join(ctx.runDir, "azurite-serving");
  fs.mkdirSync(azDir, { recursive: true });
  const azProc = procs.start(
    "azurite-serving",
    [process.execPath, azurite, "--blobHost", LOOPBACK, "--blobPort", String(azuritePort), "--inMemoryPersistence"].concat([
      "--skipApiVersionCheck",
      "--disableTelemetry",
      "--silent",
    ]),
    { env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, AZURITE_ACCOUNTS: `${account}:${key}` }, cwd: azDir },
  );
  await waitForHttp(`http://${LOOPBACK}:${azuritePort}/${account}?comp=list`, azProc, 60_000);

  // The tracking server: its artifacts at the stack's destination (the Azure tracking server's own command is azure.ts's).
  const base = { PATH: `${path.dirname(python)}:/usr/bin:/bin`, LANG: "C.UTF-8", AZURE_STORAGE_CONNECTION_STRING: connectionString };
  const tracking = procs.start(
    "azure-serving-tracking",
    [mlflow, "server", "--host", LOOPBACK, "--port", String(trackingPort), "--workers", "1"].concat([
      "--backend-store-uri",
      `sqlite:///${path.join(ctx.runDir, "azure-serving.db")}`,
      "--artifacts-destination",
      trackerUri,
    ]),
    { env: { ...base, MLFLOW_DISABLE_TELEMETRY: "true" } },
  );
  await waitForHttp(`http://${LOOPBACK}:${trackingPort}/health`, tracking, 300_000, 200);
  const trackingUrl = `http://${LOOPBACK}:${trackingPort}`;

  // ── The model server's synthesized command; its image's /opt/model is the registered version's files, put in the
  // pod's scratch volume (the harness maps /tmp there) ──
  const modelRule: AddressRule = {
    why: "the image's model directory: the registered version's files, downloaded into the pod's /tmp",
    apply: (v) => v.replace(/^\/opt\/model(?=\/|$)/, "/tmp/model"),
  };
  const lp = dep.render(server[0], single(server[0]), {
    binaries: { "mlflow-platform": platform },
    ports: { http: httpPort, metrics: adminPort },
    rules: [modelRule],
    extraEnv: identityEnv(server[0]),
  });
  const modelDir = lp.argv[lp.argv.indexOf("--model-dir") + 1];
  const home = path.join(ctx.runDir, "azure-serving-home");
  fs.mkdirSync(home, { recursive: true });
  const client = await procs.run(
    "azure-serving-client",
    [python, "-c", CLIENT, container, path.join(ctx.repoRoot, "examples", "train.py"), modelDir, MODEL],
    // train.py asks for a token (the platform's proxy wants one); this server takes any.
    { env: { ...base, HOME: home, MLFLOW_TRACKING_URI: trackingUrl, MLFLOW_TRACKING_TOKEN: "e2e" }, cwd: home, timeoutMs: 300_000 },
  );
  const clientLog = path.join(procs.logDir, "azure-serving-client.log");
  if (client.code !== 0) throw new Error(`training and registering exited ${client.code}:\n${tail(clientLog)}`);
  const registered = JSON.parse(
    fs
      .readFileSync(clientLog, "utf8")
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .pop()!,
  ) as { version: string };
  if (registered.version !== release.version)
    throw new Error(`registered ${MODEL} version ${registered.version}; the fixture releases version ${release.version}`);

  const hidden = (s: string) => s.split(connectionString).join("<connection string>");
  report.info(`azure ${lp.name}: as Kubernetes runs it: ${lp.synthesized.argv.join(" ")}`);
  for (const c of lp.changes) report.info(`  local change ${c.where}: ${c.from} -> ${hidden(c.to)} (${c.why})`);
  const runtimeEnv = { PYTHONPATH: path.join(ctx.repoRoot, "runtime", "src"), PATH: `${path.dirname(python)}:/usr/bin:/bin` };
  const proc = procs.start("azure-model-server", lp.argv, { env: { LANG: "C.UTF-8", ...lp.env, ...runtimeEnv } });
  const url = `http://${LOOPBACK}:${httpPort}`;
  await waitForHttp(`${url}/ping`, proc, 300_000, 200);

  const irisFile = path.join(ctx.runDir, "azure-iris.json");
  const rows = await procs.run(
    "azure-iris-rows",
    [
      python,
      "-c",
      "import json,sys; from sklearn.datasets import load_iris; json.dump(load_iris().data.tolist(), open(sys.argv[1],'w'))",
      irisFile,
    ],
    { env: { PATH: "/usr/bin:/bin" }, timeoutMs: 120_000 },
  );
  if (rows.code !== 0) throw new Error(`reading iris failed: ${rows.output.slice(-300)}`);
  const iris = JSON.parse(fs.readFileSync(irisFile, "utf8")) as number[][];
  const statuses: number[] = [];
  for (let i = 0; i < iris.length; i += 10) {
    const r = await request(`${url}/predict`, {
      method: "POST",
      caller: "probe",
      headers: { "Content-Type": "application/json", "X-Caller-Id": `app-${i % 2}` },
      body: JSON.stringify({ data: iris.slice(i, i + 10) }),
    });
    statuses.push(r.status);
  }
  const written = async () =>
    promSum(
      (await request(`http://${LOOPBACK}:${adminPort}/metrics`, { caller: "scrape" })).body,
      "model_server_inference_log_requests_total",
      (l) => l.outcome === "written",
    ).sum;
  await waitFor("the predictions' records written to Blob Storage", async () => (await written()) >= statuses.length, proc, 60_000);

  // ── The blobs: the records under the model's partition, nothing else but MLflow's own artifacts ──
  const dump = path.join(ctx.runDir, "azure-inference-log.json");
  const read = await procs.run("azure-inference-log-read", [python, "-c", READER, container, dump], { env: base, timeoutMs: 120_000 });
  if (read.code !== 0) throw new Error(`reading the container exited ${read.code}: ${read.output.slice(-500)}`);
  const blobs = JSON.parse(fs.readFileSync(dump, "utf8")) as Record<string, string>;
  const partition = `${INFERENCE_LOG_PREFIX}/model=${MODEL}/version=${release.version}/`;
  const layout = new RegExp(`^${partition}date=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/\\d+-.+\\.jsonl\\.gz$`);
  const logBlobs = Object.keys(blobs).filter((n) => n.startsWith(partition));
  const elsewhere = Object.keys(blobs).filter((n) => !n.startsWith(partition) && !n.startsWith(`${artifactPrefix}/`));
  const records = logBlobs.flatMap((n) =>
    blobs[n]
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l)),
  );
  report.check(
    `every row POSTed to /predict is a record under ${partition} of the stack's container, as gzip JSON lines by date and hour`,
    statuses.every((s) => s === 200) && records.length === iris.length && logBlobs.length > 0 && logBlobs.every((n) => layout.test(n)),
    `${statuses.length} requests answered ${[...new Set(statuses)].join(",")}; ${records.length} records in ${logBlobs.length} blobs, e.g. ${logBlobs[0] ?? "none"}`,
  );
  report.check(
    "nothing else is written to the container: only the log's partition and MLflow's own artifacts",
    elsewhere.length === 0,
    `${Object.keys(blobs).length} blobs; outside ${partition} and ${artifactPrefix}/: ${elsewhere.join(", ") || "none"}`,
  );
  report.check(
    "the records name the features by the configured input fields, with the prediction's label",
    records.length > 0 && records.every((x) => FEATURES.every((f) => typeof x.inputs?.[f] === "number") && typeof x.label === "string"),
    JSON.stringify({ inputs: records[0]?.inputs, label: records[0]?.label }),
  );
  await procs.stop(proc);

  // ── The drift CronJob's synthesized command: reads the records back, logs a monitoring run ──
  const containerPorts = single(trackers[0]).command.ports ?? {};
  const dnsRules = dep.services
    .filter((svc) => selects(svc.selector, trackers[0].podLabels))
    .flatMap((svc) =>
      svc.ports.flatMap((p) => {
        const name =
          typeof p.targetPort === "string" ? p.targetPort : Object.keys(containerPorts).find((k) => containerPorts[k] === p.targetPort);
        return name === Object.keys(containerPorts)[0] ? [serviceRule(svc, p.port, trackingPort)] : [];
      }),
    );
  const job = dep.render(drift[0], single(drift[0]), {
    binaries: { "mlflow-platform": platform },
    rules: dnsRules,
    extraEnv: identityEnv(drift[0]),
  });
  report.info(`azure ${job.name}: as Kubernetes runs it: ${job.synthesized.argv.join(" ")}`);
  const source = job.argv[job.argv.indexOf("--source") + 1];
  report.check(
    "the drift CronJob reads the log from the store the server writes to",
    job.argv.includes("--source") && source === destination && !job.argv.includes("--bucket") && !("AWS_DEFAULT_REGION" in job.env),
    `--source ${job.argv.includes("--source") ? source : "(none)"}; AWS_DEFAULT_REGION ${"AWS_DEFAULT_REGION" in job.env ? "set" : "unset"}`,
  );
  const x = await procs.run("azure-drift-job", job.argv, { env: { LANG: "C.UTF-8", ...job.env, ...runtimeEnv }, timeoutMs: 180_000 });
  if (x.code !== 0)
    throw new Error(`the drift CronJob's command exited ${x.code}:\n${tail(path.join(procs.logDir, "azure-drift-job.log"))}`);
  const summary = JSON.parse(
    x.output
      .trim()
      .split("\n")
      .reverse()
      .find((l) => l.startsWith("{")) ?? "{}",
  );
  const exp = await jsonRequest(
    `${trackingUrl}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(`monitoring/${MODEL}`)}`,
  );
  const run = await jsonRequest(`${trackingUrl}/api/2.0/mlflow/runs/get?run_id=${summary.run_id}`);
  const metric = (k: string) => (run.run?.data?.metrics ?? []).find((mm: any) => mm.key === k)?.value;
  report.check(
    "the drift job read every logged record back and logged a monitoring run in the tracking server: no drift on the training data",
    summary.records === iris.length &&
      run.run?.info?.experiment_id === exp.experiment?.experiment_id &&
      metric("records") === iris.length &&
      FEATURES.every((f) => typeof metric(`psi.${f}`) === "number") &&
      Array.isArray(summary.drifted) &&
      summary.drifted.length === 0,
    `${summary.records} records; run ${summary.run_id} in monitoring/${MODEL}; PSI ${FEATURES.map((f) => `${f} ${Number(metric(`psi.${f}`)).toFixed(3)}`).join(", ")}; drifted ${JSON.stringify(summary.drifted)}`,
  );
}

if (require.main === module)
  runStandaloneStep(
    "Azure stack: the model server's inference log and the drift job against Azurite (wasbs://)",
    "mlflow-e2e-azure-serving-",
    azureServing,
  );
