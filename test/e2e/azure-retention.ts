/**
 * The Azure stack's model-retention CronJob against a Blob Storage stand-in (Azurite): the Azure fixture environment
 * (N = 2) is synthesized and the CronJob's command rendered for loopback exactly as for the other stacks (the same
 * LocalDeployment, the same address rules: its in-cluster tracking URI becomes a local MLflow server's). That server
 * stores artifacts by proxy at the stack's own wasbs:// destination in Azurite (sqlite behind it: the Azure tracking
 * server's own command is test/e2e/azure.ts's). Five versions of a model are registered, the oldest holding an alias;
 * then exactly the blobs of versions 2 and 3 get the blob index tag the account's lifecycle rule filters on, a dry run
 * and a second run change nothing.
 *
 * On AKS the job's pods get Workload Identity (its own managed identity); here they get AZURE_STORAGE_CONNECTION_STRING
 * instead: the stack's account, a key made for the run, Azurite's endpoint.
 * Runs as one step of `npm run test:e2e`, or alone: `npm run build && node dist/test/e2e/azure-retention.js`.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { azureConfig, synthAzure } from "../helpers/azure";
import { TOOLS_DIR } from "../helpers/tools";
import { ARCHIVE_TAG } from "../../constructs/model-retention/command";
import { type Ctx } from "./context";
import { LocalDeployment, serviceRule, type LocalProcess } from "./lib/deployment";
import { LOOPBACK, freePort, waitForHttp } from "./lib/net";
import { tail } from "./lib/processes";
import { TerraformValues } from "./lib/terraform";
import { selects, workloads, type StackJson, type Workload } from "./lib/workloads";

/** Every `wasbs://<container>@<account>.blob.core.windows.net/<prefix>` in a rendered process. */
function wasbsDestinations(p: Pick<LocalProcess, "argv" | "env">): { container: string; account: string; prefix: string; uri: string }[] {
  const out = new Map<string, { container: string; account: string; prefix: string; uri: string }>();
  for (const s of [...p.argv, ...Object.values(p.env)])
    for (const m of s.matchAll(/wasbs:\/\/([a-z0-9-]+)@([a-z0-9]+)\.blob\.core\.windows\.net\/?([^\s,]*)/g))
      out.set(m[0], { container: m[1], account: m[2], prefix: m[3].replace(/\/$/, ""), uri: m[0] });
  return [...out.values()];
}

const one = (w: Workload) => {
  if (w.containers.length !== 1) throw new Error(`${w.address} has ${w.containers.length} containers; expected one`);
  return w.containers[0];
};

/** Creates the container, registers five versions through the tracking server (artifacts proxied into Azurite). */
const CLIENT = String.raw`
import json, os, sys
import mlflow
from azure.storage.blob import BlobServiceClient
from mlflow import MlflowClient
BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"]).create_container(sys.argv[1])
c = MlflowClient()
c.create_registered_model("retention-azure")
mlflow.set_experiment("azure-retention")
dirs = []
for i in range(1, 6):
    with mlflow.start_run() as r:
        mlflow.log_text(f"retention {i}\n", "model/MLmodel")
        mlflow.log_text(f"weights {i}\n", "model/model.pkl")
    c.create_model_version("retention-azure", f"{r.info.artifact_uri}/model", run_id=r.info.run_id)
    dirs.append(f"{r.info.experiment_id}/{r.info.run_id}/artifacts/model/")
c.set_registered_model_alias("retention-azure", "champion", "1")
print(json.dumps(dirs))
`;

/** Every blob of the container with its index tags, as JSON, into argv[2]. */
const READER = String.raw`
import json, os, sys
from azure.storage.blob import BlobServiceClient
c = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"]).get_container_client(sys.argv[1])
json.dump({n: json.dumps(c.get_blob_client(n).get_blob_tags(), sort_keys=True) for n in c.list_blob_names()}, open(sys.argv[2], "w"))
`;
import { runStandaloneStep } from "./lib/standalone";

export async function azureRetention(ctx: Ctx): Promise<void> {
  const { report, procs } = ctx;
  const python = path.join(TOOLS_DIR, "venv", "bin", "python");
  const mlflow = path.join(TOOLS_DIR, "venv", "bin", "mlflow");
  const azurite = path.join(TOOLS_DIR, "azurite", "node_modules", "azurite", "dist", "src", "blob", "main.js");
  for (const bin of [python, mlflow, azurite]) if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run scripts/install-tools.sh`);

  // N = 2, as the AWS run's registry section: with five versions, the oldest holding an alias, two are archived.
  const config = azureConfig({ registry: { retention: { keepVersions: 2 } } });
  const json = synthAzure(config).json as unknown as StackJson;
  fs.writeFileSync(path.join(ctx.runDir, "azure-retention-cdk.tf.json"), JSON.stringify(json, null, 2));
  const dep = new LocalDeployment(json, new TerraformValues(json, () => undefined), {}, path.join(ctx.runDir, "azure-retention-mounts"));
  const all = workloads(json);
  const retentionW = all.filter((w) => w.kind === "CronJob" && w.podLabels["app.kubernetes.io/component"] === "model-retention");
  const trackers = all.filter(
    (w) => w.kind === "Deployment" && w.containers.some((c) => [...c.command.command, ...c.command.args].includes("server")),
  );
  if (retentionW.length !== 1 || trackers.length !== 1)
    throw new Error(`expected one model-retention CronJob and one tracking server, found ${retentionW.length} and ${trackers.length}`);

  const [azuritePort, trackingPort] = [await freePort(), await freePort()];
  // The tracking server's in-cluster Service -> the local server (the retention job calls the registry API there).
  const containerPorts = one(trackers[0]).command.ports ?? {};
  const dnsRules = dep.services
    .filter((svc) => selects(svc.selector, trackers[0].podLabels))
    .flatMap((svc) =>
      svc.ports.flatMap((p) => {
        const name =
          typeof p.targetPort === "string" ? p.targetPort : Object.keys(containerPorts).find((k) => containerPorts[k] === p.targetPort);
        return name === Object.keys(containerPorts)[0] ? [serviceRule(svc, p.port, trackingPort)] : [];
      }),
    );
  const trackerCommand = one(trackers[0]).command;
  const dest0 = wasbsDestinations({ argv: [...trackerCommand.command, ...trackerCommand.args], env: {} });
  if (dest0.length !== 1) throw new Error(`the tracking server names ${dest0.length} wasbs:// destinations`);
  const { account, container, prefix, uri } = dest0[0];
  const key = crypto.randomBytes(64).toString("base64");
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${key};BlobEndpoint=http://${LOOPBACK}:${azuritePort}/${account};`;
  const storageEnv = {
    AZURE_STORAGE_CONNECTION_STRING: { value: connectionString, why: "Azurite, the stack's account (on AKS: Workload Identity)" },
  };
  const retention = dep.render(retentionW[0], one(retentionW[0]), {
    binaries: { "mlflow-platform": path.join(TOOLS_DIR, "venv", "bin", "mlflow-platform") },
    rules: dnsRules,
    extraEnv: storageEnv,
  });
  report.info(`azure ${retention.name}: ${retention.synthesized.argv.join(" ")}`);
  for (const c of retention.changes)
    report.info(
      `  local change ${c.where}: ${c.from} -> ${/CONNECTION_STRING/.test(c.where) ? "(Azurite, key not shown)" : c.to} (${c.why})`,
    );
  const dest = wasbsDestinations(retention);
  report.check(
    "the Azure retention CronJob marks blobs in the tracking server's wasbs:// destination",
    dest.length === 1 && dest[0].uri === uri,
    dest.map((d) => d.uri).join(", ") || "no wasbs:// URI in the retention command",
  );
  const rule = ((Object.values((json as any).resource.azurerm_storage_management_policy)[0] as any).rule as any[]).find(
    (r) => r.name === "model-retention-archive",
  );
  report.check(
    `the account's lifecycle rule filters on the prefix and the blob index tag ${ARCHIVE_TAG.key}=${ARCHIVE_TAG.value}`,
    rule?.filters.prefix_match[0] === `${container}/${prefix}/` &&
      JSON.stringify(rule?.filters.match_blob_index_tag) ===
        JSON.stringify([{ name: ARCHIVE_TAG.key, operation: "==", value: ARCHIVE_TAG.value }]),
    JSON.stringify(rule ?? "no model-retention-archive rule"),
  );

  const azDir = path.join(ctx.runDir, "azurite-retention");
  fs.mkdirSync(azDir, { recursive: true });
  const azProc = procs.start(
    "azurite-retention",
    [process.execPath, azurite, "--blobHost", LOOPBACK, "--blobPort", String(azuritePort), "--inMemoryPersistence"].concat([
      "--skipApiVersionCheck",
      "--disableTelemetry",
      "--silent",
    ]),
    { env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, AZURITE_ACCOUNTS: `${account}:${key}` }, cwd: azDir },
  );
  // Any answer (an unsigned request is refused) means it listens.
  await waitForHttp(`http://${LOOPBACK}:${azuritePort}/${account}?comp=list`, azProc, 60_000);
  const base = { PATH: `${path.dirname(python)}:/usr/bin:/bin`, LANG: "C.UTF-8", AZURE_STORAGE_CONNECTION_STRING: connectionString };
  const server = procs.start(
    "azure-retention-tracking",
    [mlflow, "server", "--host", LOOPBACK, "--port", String(trackingPort), "--workers", "1"].concat([
      "--backend-store-uri",
      `sqlite:///${path.join(ctx.runDir, "azure-retention.db")}`,
      "--artifacts-destination",
      uri,
    ]),
    { env: { ...base, MLFLOW_DISABLE_TELEMETRY: "true" } },
  );
  await waitForHttp(`http://${LOOPBACK}:${trackingPort}/health`, server, 300_000, 200);

  const client = await procs.run("azure-retention-client", [python, "-c", CLIENT, container], {
    env: { ...base, MLFLOW_TRACKING_URI: `http://${LOOPBACK}:${trackingPort}` },
    timeoutMs: 300_000,
  });
  const clientLog = path.join(procs.logDir, "azure-retention-client.log");
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
  ).map((d) => `${prefix}/${d}`);

  const dump = path.join(ctx.runDir, "blob-tags.json");
  let reads = 0;
  const tags = async (): Promise<Record<string, string>> => {
    const r = await procs.run(`azure-blob-tags-${++reads}`, [python, "-c", READER, container, dump], { env: base, timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`reading the blob tags exited ${r.code}: ${r.output.slice(-500)}`);
    return JSON.parse(fs.readFileSync(dump, "utf8")) as Record<string, string>;
  };
  const tagged = (snap: Record<string, string>) =>
    Object.keys(snap)
      .filter((k) => JSON.parse(snap[k])[ARCHIVE_TAG.key] === ARCHIVE_TAG.value)
      .sort();
  const env = { PATH: `${path.dirname(python)}:/usr/bin:/bin`, LANG: "C.UTF-8", ...retention.env };
  const runJob = async (name: string, extra: string[] = []) => {
    const r = await procs.run(name, [...retention.argv, ...extra], { env, timeoutMs: 180_000 });
    if (r.code !== 0)
      throw new Error(`the Azure retention CronJob's command exited ${r.code}:\n${tail(path.join(procs.logDir, `${name}.log`))}`);
    return r.output
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("retention:"))
      .join(" / ");
  };

  const before = await tags();
  const dry = await runJob("azure-retention-dry-run", ["--dry-run"]);
  report.check(
    "the Azure retention command's --dry-run lists what it would tag and changes nothing",
    JSON.stringify(await tags()) === JSON.stringify(before) && /would tag 4 objects/.test(dry),
    dry,
  );
  const first = await runJob("azure-retention-cronjob");
  const afterFirst = await tags();
  const expected = [dirs[1], dirs[2]].flatMap((d) => Object.keys(afterFirst).filter((k) => k.startsWith(d))).sort();
  const untouched = Object.keys(before)
    .filter((k) => !expected.includes(k))
    .every((k) => afterFirst[k] === before[k]);
  report.check(
    `the Azure retention command sets the blob index tag ${ARCHIVE_TAG.key}=${ARCHIVE_TAG.value} on exactly the blobs of versions 2 and 3 (old, no alias)`,
    expected.length === 4 && JSON.stringify(tagged(afterFirst)) === JSON.stringify(expected) && untouched,
    `${first}; tagged: ${tagged(afterFirst).join(", ")}; ${Object.keys(afterFirst).length} blobs compared with before the run`,
  );
  const second = await runJob("azure-retention-cronjob-again");
  report.check(
    "a second Azure retention run changes nothing",
    JSON.stringify(await tags()) === JSON.stringify(afterFirst) && /tagged 0 objects/.test(second),
    second,
  );
}

if (require.main === module)
  runStandaloneStep("Azure stack: the model-retention CronJob against Azurite (wasbs://)", "mlflow-e2e-azure-retention-", azureRetention);
