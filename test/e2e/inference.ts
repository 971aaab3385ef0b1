/**
 * Inference observability, for real: the ModelEndpoint's synthesized command with input/output
 * logging on (its own S3 stand-in, so that stopping it leaves the platform's bucket alone), a batch like
 * the training data and a shifted one through POST /predict, the records in the bucket with every rule
 * applied, the drift CronJob's synthesized command finding no drift and then drift in petal length only,
 * its monitoring run in MLflow and its Slack/Discord alert, and the sink stopped: predictions still
 * succeed and the dropped counter rises.
 */
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { configured, synthJson } from "../helpers/synth";
import { INFERENCE_LOG_PREFIX } from "../../config/inference";
import { type Ctx, need } from "./context";
import { discordShown, slackShown } from "./registry-events";
import { LocalDeployment, type AddressRule, type LocalProcess } from "./lib/deployment";
import { LOOPBACK, freePort, json as jsonRequest, request, waitFor, waitForHttp } from "./lib/net";
import type { Managed } from "./lib/processes";
import { tail } from "./lib/processes";
import { TerraformValues } from "./lib/terraform";
import { workloads } from "./lib/workloads";
import { builtModelImage } from "./serving";
import { promSum } from "./workflow";

const MODEL = "iris-classifier";
const FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
const EMAIL = "jane.customer@example.org";

interface Standins {
  slack: string[];
  server: http.Server;
  port: number;
}

/** Slack and Discord stand-in: records the JSON bodies posted to it. */
async function webhookStandIn(): Promise<Standins> {
  const slack: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      slack.push(`${req.url} ${Buffer.concat(chunks).toString("utf8")}`);
      res.writeHead(req.url?.startsWith("/discord") ? 204 : 200);
      res.end("ok");
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, LOOPBACK, r));
  return { slack, server, port };
}

export async function inferenceObservability(ctx: Ctx, dnsRules: AddressRule[]): Promise<void> {
  const { report } = ctx;
  const img = need(builtModelImage(), "the model image (step 4a)");
  const oidc = need(ctx.oidc, "the OpenID provider");
  const tools = need(ctx.tools, "tools");
  const alb = need(ctx.alb, "the load balancer stand-in").url;
  const token = need(ctx.token, "token");
  const python = tools.python;

  // The dev stack with the release a pipeline would write; logging rules as config/environments.ts ships them.
  const overrides = {
    auth: { localTestProfile: true, issuerUrl: oidc.issuer },
    serving: {
      models: { [MODEL]: { callerRate: 1000, callerBurst: 1000, inferenceLog: { flushSeconds: 1 } } },
      releases: { [MODEL]: { version: img.version, imageDigest: img.digest } },
    },
  };
  // The dev environment as config/environments.ts ships it (its logging rules), with the release.
  const config = configured("dev", overrides);
  const m = config.serving.models[MODEL];
  if (!m.inferenceLog.enabled) throw new Error(`serving.models.${MODEL}.inferenceLog.enabled is off in the dev configuration`);
  const stack = synthJson(config) as any;
  const all = workloads(stack);
  const server = all.find((w) => w.kind === "Deployment" && w.podLabels["mlflow-platform/model"] === MODEL);
  const drift = all.find((w) => w.kind === "CronJob" && w.podLabels["app.kubernetes.io/component"] === "drift-job");
  if (!server || !drift) throw new Error(`expected the ${MODEL} server Deployment and its drift CronJob in the synthesized stack`);
  report.info(
    `rules: ${JSON.stringify(m.inferenceLog.rules)}; context fields ${m.inferenceLog.contextFields.join(", ")}; drift PSI >= ${m.drift.psiThreshold} and KS p < ${m.drift.pValue}`,
  );

  // Its own S3 stand-in with the bucket the commands name.
  const s3Port = await freePort();
  const endpoint = `http://${LOOPBACK}:${s3Port}`;
  const moto = ctx.procs.start("moto-s3-inference-log", [tools.motoServer, "-H", LOOPBACK, "-p", String(s3Port)]);
  await waitForHttp(`${endpoint}/moto-api/`, moto, 60_000);
  const s3Env = {
    AWS_ENDPOINT_URL_S3: { value: endpoint, why: "S3 endpoint of the stand-in (in AWS: the regional endpoint)" },
    AWS_ACCESS_KEY_ID: { value: "e2e-stand-in", why: "credentials of the S3 stand-in (in EKS: Pod Identity)" },
    AWS_SECRET_ACCESS_KEY: { value: "e2e-stand-in", why: "credentials of the S3 stand-in (in EKS: Pod Identity)" },
  };

  const optRule: AddressRule = {
    why: "the image's files (built into a directory)",
    apply: (v) => v.replace(/^\/opt(?=\/|$)/, `${img.root}/opt`),
  };
  let bucket = "";
  const startServer = async (
    name: string,
    tf: TerraformValues,
  ): Promise<{ proc: Managed; base: string; admin: string; lp: LocalProcess }> => {
    const dep = new LocalDeployment(stack, tf, {}, path.join(ctx.runDir, "mounts"));
    const port = await freePort();
    const adminPort = await freePort();
    const lp = dep.render(server, server.containers[0], {
      binaries: { "mlflow-platform": path.join(img.root, "opt", "venv", "bin", "mlflow-platform") },
      ports: { http: port, metrics: adminPort },
      rules: [optRule],
      extraEnv: s3Env,
    });
    bucket = lp.argv[lp.argv.indexOf("--inference-log-bucket") + 1];
    const proc = ctx.procs.start(name, lp.argv, { env: { ...img.env, LANG: "C.UTF-8", ...lp.env } });
    const base = `http://${LOOPBACK}:${port}`;
    await waitForHttp(`${base}/ping`, proc, 300_000, 200);
    return { proc, base, admin: `http://${LOOPBACK}:${adminPort}`, lp };
  };
  const first = await startServer("model-endpoint-logging", new TerraformValues(stack, () => undefined));
  report.info(`${first.lp.name}: as Kubernetes runs it: ${first.lp.synthesized.argv.join(" ")}`);
  const hmacKey = first.lp.env.MODEL_SERVER_INFERENCE_LOG_KEY ?? "";
  report.check(
    "the HMAC key reaches the server from its Secret, not its arguments",
    hmacKey.length >= 32 && !first.lp.argv.some((a) => a.includes(hmacKey)),
    `MODEL_SERVER_INFERENCE_LOG_KEY set from Secret (${first.lp.env.MODEL_SERVER_INFERENCE_LOG_KEY?.length ?? 0} characters), never in argv`,
  );
  const region = config.aws.region;
  const location =
    region === "us-east-1"
      ? ""
      : `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${region}</LocationConstraint></CreateBucketConfiguration>`;
  const created = await request(`${endpoint}/${bucket}`, { method: "PUT", body: location, caller: "probe" });
  if (created.status !== 200) throw new Error(`creating bucket ${bucket} answered ${created.status}`);

  // The batches: the 150 iris rows (like the training data), then the same rows with petal length + 3 cm.
  const irisFile = path.join(ctx.runDir, "iris.json");
  const r = await ctx.procs.run(
    "iris-rows",
    [
      python,
      "-c",
      "import json,sys; from sklearn.datasets import load_iris; json.dump(load_iris().data.tolist(), open(sys.argv[1],'w'))",
      irisFile,
    ],
    { env: { PATH: "/usr/bin:/bin" }, timeoutMs: 120_000 },
  );
  if (r.code !== 0) throw new Error(`reading iris failed: ${r.output.slice(-300)}`);
  const iris = JSON.parse(fs.readFileSync(irisFile, "utf8")) as number[][];
  const shifted = iris.map(([a, b, c, d]) => [a, b, Math.round((c + 3) * 10) / 10, d]);
  const predict = (base: string, rows: number[][], i: number) =>
    request(`${base}/predict`, {
      method: "POST",
      caller: "probe",
      headers: { "Content-Type": "application/json", "X-Caller-Id": `app-${i % 2}`, "X-Request-Id": `req-${i}` },
      body: JSON.stringify({
        data: rows,
        context: {
          customer_id: `c-${i % 3}`,
          customer_email: EMAIL,
          account_number: `DE8937040044053201${String(1000 + i)}`,
          age: 30 + i,
          comment: `please call me back at ${EMAIL} or +44 20 7946 0958`,
        },
      }),
    });
  const send = async (base: string, rows: number[][], from: number) => {
    const statuses: number[] = [];
    for (let i = 0; i < rows.length; i += 10) statuses.push((await predict(base, rows.slice(i, i + 10), from + i / 10)).status);
    return statuses;
  };
  // The metrics are on the admin port (Prometheus only; the gateway never reaches it).
  const written = async (admin: string) =>
    promSum(
      (await request(`${admin}/metrics`, { caller: "scrape" })).body,
      "model_server_inference_log_requests_total",
      (l) => l.outcome === "written",
    ).sum;
  const s1 = await send(first.base, iris, 0);
  await waitFor("the normal batch's records written", async () => (await written(first.admin)) >= s1.length, first.proc, 30_000);

  // The records in the bucket, read with boto3.
  const dump = path.join(ctx.runDir, "inference-log.json");
  const reader = [
    "import boto3, gzip, json, sys",
    "s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='e2e-stand-in', aws_secret_access_key='e2e-stand-in')",
    "out = {}",
    "for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[2], Prefix=sys.argv[3]):",
    "    for o in page.get('Contents', []):",
    "        out[o['Key']] = gzip.decompress(s3.get_object(Bucket=sys.argv[2], Key=o['Key'])['Body'].read()).decode()",
    "json.dump(out, open(sys.argv[4], 'w'))",
  ].join("\n");
  let reads = 0;
  const objects = async (): Promise<Record<string, string>> => {
    const x = await ctx.procs.run(
      `inference-log-read-${++reads}`,
      [python, "-c", reader, endpoint, bucket, `${INFERENCE_LOG_PREFIX}/`, dump],
      { env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" }, timeoutMs: 120_000 },
    );
    if (x.code !== 0) throw new Error(`reading the inference log exited ${x.code}: ${x.output.slice(-500)}`);
    return JSON.parse(fs.readFileSync(dump, "utf8")) as Record<string, string>;
  };
  const objs = await objects();
  const keys = Object.keys(objs);
  const records = Object.values(objs).flatMap((t) =>
    t
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l)),
  );
  const partition = new RegExp(
    `^${INFERENCE_LOG_PREFIX}/model=${MODEL}/version=${img.version}/date=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/\\d+-.+\\.jsonl\\.gz$`,
  );
  report.check(
    "every sampled row is in the bucket as gzip JSON lines, partitioned by model, version, date and hour",
    records.length === iris.length && keys.every((k) => partition.test(k)) && s1.every((s) => s === 200),
    `${records.length} records in ${keys.length} objects, e.g. ${keys[0]}; ${s1.length} requests answered ${[...new Set(s1)].join(",")}`,
  );
  const allText = Object.values(objs).join("\n");
  const byCustomer = new Map<string, Set<string>>();
  for (const rec of records) {
    const id = `c-${Number(String(rec.request_id).replace("req-", "")) % 3}`;
    byCustomer.set(id, (byCustomer.get(id) ?? new Set()).add(rec.context?.customer_id));
  }
  const hashes = [...byCustomer.values()].map((s) => [...s]);
  report.check(
    "the e-mail address sent in the free-text field is nowhere in clear; the comment keeps its text",
    !allText.includes(EMAIL) && records.every((x) => x.context?.comment === "please call me back at [email] or [phone]"),
    `comment logged as ${JSON.stringify(records[0]?.context?.comment)}`,
  );
  report.check(
    "dropped fields are absent; undeclared fields are never logged; the number is masked and the age coarsened",
    records.every(
      (x) => !("customer_email" in (x.context ?? {})) && /^\*+\d{4}$/.test(x.context?.account_number) && x.context?.age % 10 === 0,
    ),
    `context of one record: ${JSON.stringify(records[0]?.context)}`,
  );
  report.check(
    "a hashed field is equal for equal inputs and differs between inputs",
    hashes.every((h) => h.length === 1 && /^[0-9a-f]{64}$/.test(h[0])) && new Set(hashes.map((h) => h[0])).size === 3,
    `customer ids c-0, c-1, c-2 -> ${hashes.map((h) => h[0]?.slice(0, 12)).join(", ")}...`,
  );
  report.check(
    "the features are logged by the configured names, with prediction and label",
    records.every((x) => FEATURES.every((f) => typeof x.inputs?.[f] === "number") && typeof x.label === "string"),
    JSON.stringify({
      inputs: records[0]?.inputs,
      prediction: records[0]?.prediction,
      label: records[0]?.label,
      caller: records[0]?.caller?.slice(0, 12),
    }),
  );

  // ── The drift CronJob's command ──
  const standIns = await webhookStandIn();
  try {
    const e = config.events;
    const external: Record<string, string> = {};
    if (e.slack?.webhookUrl.source === "kubernetes")
      external[`${e.slack.webhookUrl.secretName}/${e.slack.webhookUrl.key}`] = `http://${LOOPBACK}:${standIns.port}/slack`;
    if (e.discord?.webhookUrl.source === "kubernetes")
      external[`${e.discord.webhookUrl.secretName}/${e.discord.webhookUrl.key}`] = `http://${LOOPBACK}:${standIns.port}/discord`;
    if (e.email?.password?.source === "kubernetes") external[`${e.email.password.secretName}/${e.email.password.key}`] = "unused";
    const closed = await freePort();
    const smtpRule: AddressRule = {
      why: "SMTP server -> a closed local port (this step has no mail sink: e-mail delivery fails and is reported)",
      apply: (v) =>
        v
          .replace(`"smtpHost":"${e.email?.smtpHost}"`, `"smtpHost":"${LOOPBACK}"`)
          .replace(`"smtpPort":${e.email?.smtpPort}`, `"smtpPort":${closed}`),
    };
    const dep = new LocalDeployment(stack, new TerraformValues(stack, () => undefined), external, path.join(ctx.runDir, "mounts"));
    const job = dep.render(drift, drift.containers[0], {
      binaries: { "mlflow-platform": path.join(path.dirname(python), "mlflow-platform") },
      rules: [...dnsRules, smtpRule],
      extraEnv: s3Env,
    });
    report.info(`${job.name}: as Kubernetes runs it: ${job.synthesized.argv.join(" ")}`);
    const runDrift = async (name: string) => {
      const x = await ctx.procs.run(name, job.argv, {
        env: { PATH: `${path.dirname(python)}:/usr/bin:/bin`, LANG: "C.UTF-8", ...job.env },
        timeoutMs: 180_000,
      });
      if (x.code !== 0)
        throw new Error(`the drift CronJob's command exited ${x.code}:\n${tail(path.join(ctx.procs.logDir, `${name}.log`))}`);
      const line = x.output
        .trim()
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("{"));
      return JSON.parse(line ?? "{}");
    };
    const d1 = await runDrift("drift-job-1");
    const fmt = (o: Record<string, number | null>) =>
      Object.entries(o)
        .map(([k, v]) => `${k} ${v === null ? "-" : v.toFixed(3)}`)
        .join(", ");
    report.check(
      "the drift job on the normal window: no drift",
      d1.records === iris.length && d1.drifted.length === 0 && Object.keys(d1.psi).length === 4,
      `${d1.records} rows; PSI ${fmt(d1.psi)}; KS p ${fmt(d1.ks_pvalue)}`,
    );

    const s2 = await send(first.base, shifted, 100);
    await waitFor(
      "the shifted batch's records written",
      async () => (await written(first.admin)) >= s1.length + s2.length,
      first.proc,
      30_000,
    );
    const slackBefore = standIns.slack.length;
    const d2 = await runDrift("drift-job-2");
    report.check(
      "the drift job after the shifted batch (petal length + 3 cm): drift in petal length, in no other feature",
      JSON.stringify(d2.drifted) === '["petal_length"]',
      `${d2.records} rows; PSI ${fmt(d2.psi)}; KS p ${fmt(d2.ks_pvalue)}; notified: ${d2.notified.join("; ")}`,
    );
    const posted = standIns.slack.slice(slackBefore);
    // What each channel shows (the notifiers escape each channel's markup; a feature name is registry content).
    const shown = (p: string, field: string, render: (t: string) => string) => {
      try {
        return render(JSON.parse(p.slice(p.indexOf(" ") + 1))[field] ?? "");
      } catch {
        return "";
      }
    };
    report.check(
      "the drift alert reaches Slack and Discord (e-mail has no sink here and is reported failed)",
      posted.some((p) => p.startsWith("/slack") && shown(p, "text", slackShown).includes("petal_length")) &&
        posted.some((p) => p.startsWith("/discord") && shown(p, "content", discordShown).includes("petal_length")),
      posted.map((p) => p.slice(0, 160)).join(" | ") || "nothing posted",
    );

    // The monitoring runs in MLflow, through the proxy.
    const auth = { Authorization: `Bearer ${token}` };
    const exp = await jsonRequest(
      `${alb}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(`monitoring/${MODEL}`)}`,
      { headers: auth },
    );
    const runs =
      (
        await jsonRequest(`${alb}/api/2.0/mlflow/runs/search`, {
          method: "POST",
          headers: auth,
          body: { experiment_ids: [exp.experiment.experiment_id], filter: "tags.`mlflow-platform.monitoring` = 'drift'" },
        })
      ).runs ?? [];
    const latest = runs.find((x: any) => x.info.run_id === d2.run_id);
    const metricNames = (latest?.data?.metrics ?? []).map((x: any) => x.key).sort();
    const arts = await jsonRequest(`${alb}/api/2.0/mlflow/artifacts/list?run_id=${d2.run_id}`, { headers: auth });
    const reportText = await request(
      `${alb}/api/2.0/mlflow-artifacts/artifacts/${exp.experiment.experiment_id}/${d2.run_id}/artifacts/drift-report.md`,
      { headers: auth },
    );
    report.check(
      "each run is a monitoring run in MLflow with per-feature metrics and a readable report",
      runs.length >= 2 &&
        FEATURES.every((f) => metricNames.includes(`psi.${f}`) && metricNames.includes(`ks_pvalue.${f}`)) &&
        (arts.files ?? []).some((f: any) => f.path === "drift-report.md") &&
        /\| petal_length \| 300 \|.*\*\*yes\*\*/.test(reportText.body),
      `${runs.length} runs in monitoring/${MODEL}; metrics ${metricNames.join(", ")}; report: ${reportText.body.split("\n").find((l) => l.startsWith("| petal_length")) ?? reportText.status}`,
    );
  } finally {
    await new Promise<void>((res) => standIns.server.close(() => res()));
  }

  // ── Another key: the same customer id hashes differently ──
  await ctx.procs.stop(first.proc);
  const second = await startServer("model-endpoint-logging-other-key", new TerraformValues(stack, () => undefined));
  const before = Object.keys(await objects());
  await predict(second.base, [iris[0]], 0);
  await waitFor("the other key's record written", async () => (await written(second.admin)) >= 1, second.proc, 30_000);
  const after = await objects();
  const fresh = Object.keys(after)
    .filter((k) => !before.includes(k))
    .flatMap((k) =>
      after[k]
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    );
  const c0 = hashes[0][0];
  report.check(
    "the same customer id hashed with another key (a new Secret) gives another hash",
    fresh.length === 1 && /^[0-9a-f]{64}$/.test(fresh[0].context?.customer_id) && fresh[0].context.customer_id !== c0,
    `c-0: ${c0.slice(0, 16)}... with the first key, ${String(fresh[0]?.context?.customer_id).slice(0, 16)}... with the second`,
  );

  // ── The sink down: predictions unaffected, the dropped counter rises ──
  await ctx.procs.stop(moto);
  const dropped = async () =>
    promSum((await request(`${second.admin}/metrics`, { caller: "scrape" })).body, "model_server_inference_log_requests_total", (l) =>
      l.outcome.startsWith("dropped_"),
    ).sum;
  const d0 = await dropped();
  const t0 = Date.now();
  const down = await send(second.base, iris.slice(0, 50), 0);
  const ms = Date.now() - t0;
  await waitFor("dropped records counted", async () => (await dropped()) >= d0 + down.length, second.proc, 60_000);
  report.check(
    "with the S3 stand-in stopped every prediction still succeeds and the dropped-records counter rises",
    down.every((s) => s === 200) && (await dropped()) >= d0 + down.length,
    `${down.length} requests answered ${[...new Set(down)].join(",")} in ${ms} ms; model_server_inference_log_requests_total{outcome=~"dropped_.*"} ${d0} -> ${await dropped()}`,
  );
  await ctx.procs.stop(second.proc);
}
