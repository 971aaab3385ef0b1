/**
 * Reproducible training: `mlflow run` of the MLproject with the local environment manager,
 * then the training pipeline's steps read back from the synthesized WorkflowTemplate (the local chart's
 * values in cdk.tf.json), run in the template's order with Argo's parameter passing, against the
 * platform through the load balancer and the proxy, with the identity the pods have on the cluster: a
 * projected service-account token (no e-mail, audience training.identity.audience, subject
 * system:serviceaccount:<ns>:training-pipeline). The e2e's OpenID provider plays the cluster's issuer
 * (the synthesis points training.identity.issuerUrl at it).
 *
 * What differs from the cluster, each logged: the image's paths (/app/examples -> the repository's
 * examples/, /tmp -> a run directory, the gates file -> the synthesized ConfigMap's content written to a
 * file, the token file -> a file holding the minted token), the tracking URI (https://<hostname> -> the
 * load balancer stand-in), and the interpreter (the tools virtualenv, same pins as the image).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { type Ctx, need } from "./context";
import { json, request } from "./lib/net";
import { tail } from "./lib/processes";
import { USER_EMAIL } from "./deploy";
import { eventsMessages } from "./registry-events";
import { claims } from "./services/oidc";

const API = "/api/2.0/mlflow";

interface StepResult {
  step: string;
  code: number | null;
  output: string;
  outputs: Record<string, string>;
}

/** The local chart values of the training pipeline's release: the WorkflowTemplate and CronWorkflow. */
export function trainingResources(stackJson: any): any[] {
  const releases = stackJson.resource?.helm_release ?? {};
  const key = Object.keys(releases).find((k) => k.startsWith("training_pipeline"));
  if (!key) throw new Error("the synthesized stack has no training pipeline release (training.enabled is off for dev?)");
  return JSON.parse(releases[key].values[0]).resources;
}

function configMapData(stackJson: any, name: string): Record<string, string> {
  for (const cm of Object.values<any>(stackJson.resource?.kubernetes_config_map_v1 ?? {})) {
    const md = Array.isArray(cm.metadata) ? cm.metadata[0] : cm.metadata;
    if (md?.name === name) return cm.data;
  }
  throw new Error(`no ConfigMap ${name} in the synthesized stack`);
}

function userEnv(ctx: Ctx, token: string, home: string): Record<string, string> {
  const tools = need(ctx.tools, "tools");
  return {
    PATH: `${path.dirname(tools.python)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: home,
    LANG: "C.UTF-8",
    MLFLOW_TRACKING_URI: need(ctx.alb, "the load balancer stand-in").url,
    MLFLOW_TRACKING_TOKEN: token,
  };
}

/** `mlflow run examples -e train --env-manager local` as a data scientist runs it, through the proxy. */
export async function mlflowRunProject(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const tools = need(ctx.tools, "tools");
  const home = path.join(ctx.runDir, "mlproject-home");
  const outDir = path.join(ctx.runDir, "mlproject-outputs");
  fs.mkdirSync(home, { recursive: true });
  const started = Date.now();
  const r = await ctx.procs.run(
    "mlflow-run-train",
    [
      tools.mlflow,
      "run",
      path.join(ctx.repoRoot, "examples"),
      "-e",
      "train",
      "--env-manager",
      "local",
      "--experiment-name",
      "iris-mlproject",
      "-P",
      "lr=0.05",
      "-P",
      "epochs=10",
      "-P",
      `outputs_dir=${outDir}`,
    ],
    { env: userEnv(ctx, need(ctx.token, "the user's token"), home), cwd: home, timeoutMs: 300_000 },
  );
  if (r.code !== 0) throw new Error(`mlflow run exited ${r.code}:\n${tail(path.join(ctx.procs.logDir, "mlflow-run-train.log"))}`);
  const runId = fs.readFileSync(path.join(outDir, "run_id"), "utf8").trim();
  report.pass(
    "mlflow run examples -e train --env-manager local succeeded through the proxy",
    `run ${runId}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const run = (await json<any>(`${ctx.alb!.url}${API}/runs/get?run_id=${runId}`, { headers: { Authorization: `Bearer ${ctx.token}` } }))
    .run;
  const tags = Object.fromEntries((run.data.tags ?? []).map((t: any) => [t.key, t.value]));
  const params = Object.fromEntries((run.data.params ?? []).map((t: any) => [t.key, t.value]));
  const sha = execFileSync("git", ["-C", ctx.repoRoot, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
  report.check(
    "the run records the source commit and the entry point",
    tags["mlflow.source.git.commit"] === sha && tags["mlflow.project.entryPoint"] === "train",
    `mlflow.source.git.commit=${tags["mlflow.source.git.commit"]} (HEAD ${sha}), mlflow.project.entryPoint=${tags["mlflow.project.entryPoint"]}, mlflow.project.env=${tags["mlflow.project.env"]}, mlflow.source.type=${tags["mlflow.source.type"]}`,
  );
  report.check(
    "the entry point's parameters are the run's params",
    params.lr === "0.05" && params.epochs === "10",
    `lr=${params.lr}, epochs=${params.epochs}, batch_size=${params.batch_size}`,
  );
}

/** One pass of the pipeline: every step of the WorkflowTemplate, in order, until one fails (as Argo does). */
async function runPipeline(ctx: Ctx, label: string, overrides: Record<string, string>, saToken: string): Promise<StepResult[]> {
  const { report } = ctx;
  const stackJson = need(ctx.json, "the synthesized stack");
  const config = need(ctx.config, "config");
  const tools = need(ctx.tools, "tools");
  const wt = trainingResources(stackJson).find((r) => r.kind === "WorkflowTemplate");
  const spec = wt.spec;
  const workflowParams: Record<string, string> = Object.fromEntries(spec.arguments.parameters.map((p: any) => [p.name, p.value]));
  Object.assign(workflowParams, overrides);
  const workflowName = `${wt.metadata.name}-${label}`;
  const dir = path.join(ctx.runDir, `pipeline-${label}`);
  const tmp = path.join(dir, "tmp");
  fs.mkdirSync(path.join(tmp, "outputs"), { recursive: true });
  const tokenFile = path.join(dir, "token");
  fs.writeFileSync(tokenFile, saToken, { mode: 0o600 });
  const gatesData = configMapData(stackJson, "training-registry-gates");
  const gatesFile = path.join(dir, "gates.json");
  fs.writeFileSync(gatesFile, gatesData["gates.json"]);
  const templates = Object.fromEntries(spec.templates.map((t: any) => [t.name, t]));
  const entry = templates[spec.entrypoint];
  const done: Record<string, Record<string, string>> = {};
  const results: StepResult[] = [];
  const paths: [string, string, string][] = [
    ["/app/examples", path.join(ctx.repoRoot, "examples"), "the image's MLproject is the repository's examples/"],
    ["/etc/mlflow-platform/gates.json", gatesFile, "the gates ConfigMap's content"],
    ["/var/run/secrets/mlflow-platform/token", tokenFile, "the projected token: a minted service-account-shaped token"],
    ["/tmp", tmp, "the emptyDir"],
  ];
  // One pass, longest first: a replacement (under the run directory, itself in /tmp) is never rewritten again.
  const pathPattern = new RegExp(paths.map(([from]) => from.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
  const local = (v: string) => v.replace(pathPattern, (m) => paths.find(([from]) => from === m)![1]);
  for (const [from, to, why] of paths) report.info(`${label}: local change ${from} -> ${to} (${why})`);
  // The workflow's labels as the Argo Server sets them when the signed-in user submits it through its
  // single sign-on (workflow/creator/creator.go, v3.7.3: the e-mail with "@" written ".at.").
  const labelsJson = JSON.stringify({
    "workflows.argoproj.io/creator": "e2e-user",
    "workflows.argoproj.io/creator-email": USER_EMAIL.replace("@", ".at."),
    "workflows.argoproj.io/workflow-template": wt.metadata.name,
  });
  report.info(`${label}: {{workflow.labels.json}} -> ${labelsJson} (submitted by ${USER_EMAIL} through the Argo Server's sign-on)`);
  for (const group of entry.steps) {
    for (const s of group) {
      const t = templates[s.template];
      const inputs: Record<string, string> = {};
      for (const a of s.arguments?.parameters ?? []) {
        const m = /^\{\{steps\.([\w-]+)\.outputs\.parameters\.([\w-]+)\}\}$/.exec(a.value);
        if (!m || done[m[1]]?.[m[2]] === undefined)
          throw new Error(`${label}: step ${s.name} needs ${a.value}, which no earlier step produced`);
        inputs[a.name] = done[m[1]][m[2]];
      }
      const subst = (v: string) =>
        local(
          v
            .replace(/\{\{workflow\.parameters\.([\w-]+)\}\}/g, (_m, p) => {
              if (!(p in workflowParams)) throw new Error(`unknown workflow parameter ${p}`);
              return workflowParams[p];
            })
            .replace(/\{\{inputs\.parameters\.([\w-]+)\}\}/g, (_m, p) => {
              if (!(p in inputs)) throw new Error(`unknown input ${p}`);
              return inputs[p];
            })
            .replace(/\{\{workflow\.labels\.json\}\}/g, labelsJson)
            .replace(/\{\{workflow\.name\}\}/g, workflowName)
            .replace(/\{\{workflow\.namespace\}\}/g, wt.metadata.namespace),
        );
      const c = t.container;
      const env: Record<string, string> = { PATH: `${path.dirname(tools.python)}:/usr/local/bin:/usr/bin:/bin`, LANG: "C.UTF-8" };
      for (const e of c.env) {
        if (e.value === undefined) throw new Error(`${t.name}: env ${e.name} is not a plain value`);
        env[e.name] = subst(e.value);
      }
      if (env.MLFLOW_TRACKING_URI !== `https://${config.hostname}`)
        throw new Error(`${t.name}: MLFLOW_TRACKING_URI is ${env.MLFLOW_TRACKING_URI}, not the platform's public URL`);
      env.MLFLOW_TRACKING_URI = need(ctx.alb, "alb").url;
      const argv = [...c.command, ...c.args].map(subst);
      const name = `pipeline-${label}-${t.name}`;
      const r = await ctx.procs.run(name, argv, { env, cwd: tmp, timeoutMs: Math.min(Number(t.activeDeadlineSeconds ?? 600), 600) * 1000 });
      const outputs: Record<string, string> = {};
      if (r.code === 0) {
        for (const o of t.outputs?.parameters ?? []) {
          const file = local(o.valueFrom.path);
          if (!fs.existsSync(file)) throw new Error(`${label}: step ${t.name} did not write its output ${o.name} (${o.valueFrom.path})`);
          outputs[o.name] = fs.readFileSync(file, "utf8").trim();
        }
      }
      done[s.name] = outputs;
      results.push({ step: t.name, code: r.code, output: r.output, outputs });
      report.info(`${label}: step ${t.name}: exit ${r.code}${Object.keys(outputs).length ? `, outputs ${JSON.stringify(outputs)}` : ""}`);
      if (r.code !== 0) return results; // Argo stops the workflow at a failed step.
    }
  }
  return results;
}

export async function trainingPipeline(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const config = need(ctx.config, "config");
  const oidc = need(ctx.oidc, "the OpenID provider (playing the cluster's issuer)");
  const alb = need(ctx.alb, "alb").url;
  const userToken = need(ctx.token, "the user's token");
  const t = config.training;
  const identity = need(t.identity, "training.identity");
  const stackJson = need(ctx.json, "the synthesized stack");

  const resources = trainingResources(stackJson);
  const wt = resources.find((r) => r.kind === "WorkflowTemplate");
  const cron = resources.find((r) => r.kind === "CronWorkflow");
  report.check(
    "the stack ships the WorkflowTemplate and a CronWorkflow that submits it on the schedule",
    wt !== undefined && cron?.spec?.workflowSpec?.workflowTemplateRef?.name === wt.metadata.name && cron.spec.schedules?.[0] === t.schedule,
    `WorkflowTemplate ${wt?.metadata?.namespace}/${wt?.metadata?.name}: steps ${wt?.spec?.templates?.[0]?.steps?.map((g: any) => g[0].name).join(" -> ")}; CronWorkflow ${cron?.metadata?.name} ${JSON.stringify(cron?.spec?.schedules)}`,
  );

  // ── The pods' identity: a projected service-account token; the proxy admits this subject only ──
  const subject = `system:serviceaccount:${t.namespace}:${wt.spec.serviceAccountName}`;
  const mintSa = (sub: string, aud = identity.audience) => oidc.mint({ sub, aud, email: "-", ttl: t.stepDeadlineSeconds });
  const saToken = await mintSa(subject);
  const c = claims(saToken);
  const probe = async (token: string) =>
    (await request(`${alb}${API}/experiments/search?max_results=1`, { headers: { Authorization: `Bearer ${token}` } })).status;
  const okStatus = await probe(saToken);
  report.check(
    "the training service account's projected token reaches MLflow through the proxy",
    okStatus === 200,
    `sub ${c.sub}, aud ${c.aud}, email ${c.email ?? "(none)"}, groups ${c.groups ?? "(none)"}: ${okStatus}`,
  );
  const other = await probe(await mintSa(`system:serviceaccount:${t.namespace}:someone-else`));
  const otherNs = await probe(await mintSa(`system:serviceaccount:default:${wt.spec.serviceAccountName}`));
  const wrongAud = await probe(await mintSa(subject, "sts.amazonaws.com"));
  report.check(
    "other service accounts, or this one with another audience, are refused",
    [other, otherNs, wrongAud].every((s) => s === 401 || s === 403),
    `another account in ${t.namespace}: ${other}; same name in default: ${otherNs}; audience sts.amazonaws.com: ${wrongAud}`,
  );

  const api = <T = any>(endpoint: string, q: Record<string, string>) =>
    json<T>(`${alb}${API}/${endpoint}?${new URLSearchParams(q)}`, { headers: { Authorization: `Bearer ${userToken}` } });
  const model = t.modelName;
  let holder: any;
  try {
    holder = (await api("registered-models/alias", { name: model, alias: t.target })).model_version;
  } catch {
    holder = undefined;
  }
  report.info(`${model}@${t.target} before the pipeline: ${holder ? `version ${holder.version}` : "none"}`);

  // ── Run 1: the configured parameters ──
  const good = await runPipeline(ctx, "good", { "git-sha": "" }, saToken);
  const byStep = (rs: StepResult[]) => Object.fromEntries(rs.map((r) => [r.step, r]));
  const g = byStep(good);
  const order = good.map((r) => `${r.step}:${r.code}`).join(" -> ");
  report.check(
    "run 1: every step of the WorkflowTemplate ran, in order, and succeeded",
    good.length === wt.spec.templates[0].steps.length && good.every((r) => r.code === 0),
    order,
  );
  if (!g.train?.outputs["run-id"]) throw new Error(`run 1 produced no run id: ${order}\n${g.train?.output.slice(-2000)}`);
  const runId = g.train.outputs["run-id"];
  const run = (await api("runs/get", { run_id: runId })).run;
  const tags = Object.fromEntries((run.data.tags ?? []).map((x: any) => [x.key, x.value]));
  const params = Object.fromEntries((run.data.params ?? []).map((x: any) => [x.key, x.value]));
  const metrics = Object.fromEntries((run.data.metrics ?? []).map((x: any) => [x.key, x.value]));
  const arts = ((await api("artifacts/list", { run_id: runId })).files ?? []).map((f: any) => f.path);
  const sha = execFileSync("git", ["-C", ctx.repoRoot, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
  report.check(
    "run 1: a run with params, metrics, artifacts, the git SHA and the entry point",
    params.lr === t.parameters.lr &&
      params.epochs === t.parameters.epochs &&
      metrics.accuracy !== undefined &&
      metrics.eval_accuracy !== undefined &&
      ["confusion_matrix.png", "standardscaler.pkl"].every((a) => arts.includes(a)) &&
      tags["mlflow.source.git.commit"] === sha &&
      tags["mlflow.project.entryPoint"] === "train",
    `run ${runId}: params ${JSON.stringify(params)}; metrics accuracy ${metrics.accuracy}, eval_accuracy ${metrics.eval_accuracy}, baseline_accuracy ${metrics.baseline_accuracy}; artifacts ${arts.join(", ")}; git ${tags["mlflow.source.git.commit"]} (HEAD ${sha}); entry point ${tags["mlflow.project.entryPoint"]}; mlflow.user ${tags["mlflow.user"]}`,
  );
  const v1 = g.register?.outputs.version;
  const mv1 = v1 ? (await api("model-versions/get", { name: model, version: v1 })).model_version : undefined;
  const mvTags1 = Object.fromEntries((mv1?.tags ?? []).map((x: any) => [x.key, x.value]));
  report.check(
    "run 1: a registered version, by the pipeline's identity, from this run",
    mv1?.run_id === runId && mvTags1["platform.registered_by"] === subject && mvTags1.validation === "passed",
    `${model} version ${v1}: status ${mv1?.status}, run ${mv1?.run_id}, registered_by ${mvTags1["platform.registered_by"]}, validation ${mvTags1.validation}, training.workflow ${mvTags1["training.workflow"]}`,
  );
  report.check(
    "run 1: the registry gates were evaluated and passed",
    g.gates?.code === 0 && /all gates pass/.test(g.gates.output),
    (g.gates?.output ?? "")
      .split("\n")
      .filter((l) => /gates pass|refused|: (pass|FAIL):/.test(l))
      .join(" | ")
      .slice(0, 600),
  );
  const ready1 = mvTags1[t.readyTag];
  report.check(
    `run 1: ${t.readyTag} is set on the version (hand-over to the release pipeline)`,
    ready1 !== undefined && JSON.parse(ready1).by === subject,
    `${t.readyTag} = ${ready1}`,
  );

  // Four eyes: whoever started the pipeline may not approve what it registered.
  const registrant = (() => {
    try {
      return JSON.parse(mvTags1["platform.registrant"] ?? "");
    } catch {
      return undefined;
    }
  })();
  const starter = await oidc.mint({ email: USER_EMAIL, sub: String(claims(userToken).sub), groups: ["ml-approvers"] });
  const home = path.join(ctx.runDir, "pipeline-home");
  fs.mkdirSync(home, { recursive: true });
  const selfApprove = v1
    ? await ctx.procs.run(
        "approve-by-starter",
        [
          path.join(path.dirname(need(ctx.tools, "tools").python), "mlflow-platform"),
          "registry",
          "approve",
          "--model",
          model,
          "--version",
          v1,
          "--to",
          "production",
          "--gates",
          path.join(ctx.runDir, "pipeline-good", "gates.json"),
        ],
        { env: userEnv(ctx, starter, home), cwd: home, timeoutMs: 180_000 },
      )
    : undefined;
  report.check(
    "run 1: the registration records who started the pipeline, and that person cannot approve the version (exit 2)",
    registrant?.sub === subject &&
      JSON.stringify(registrant?.started_by) === JSON.stringify([USER_EMAIL]) &&
      selfApprove?.code === 2 &&
      /started the pipeline/.test(selfApprove.output),
    `platform.registrant ${mvTags1["platform.registrant"]}; approve as ${USER_EMAIL} (in ml-approvers): exit ${selfApprove?.code}: ${selfApprove?.output.trim().split("\n").slice(-1)[0]}`,
  );

  // The hand-over: the registry events service notices the tag and dispatches to the release pipeline.
  if (config.events.enabled && config.events.github && v1) {
    const wanted = (m: { channel: string; text: string }) =>
      m.channel === "github" && m.text.includes(model) && m.text.includes(t.readyTag) && new RegExp(`"version":"?${v1}"?[,}]`).test(m.text);
    const deadline = Date.now() + 60_000;
    while (!eventsMessages().some(wanted) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    const got = eventsMessages().find(wanted);
    report.check(
      `the ${t.readyTag} tag reaches the release pipeline (the events service's repository_dispatch)`,
      got !== undefined,
      got
        ? got.text.slice(0, 400)
        : `no GitHub dispatch for ${model} version ${v1} within 60 s; GitHub messages: ${eventsMessages()
            .filter((m) => m.channel === "github")
            .map((m) => m.text.slice(0, 120))
            .join(" | ")}`,
    );
  } else {
    report.info(
      `the hand-over to the release pipeline is not checked here: events ${config.events.enabled ? "on" : "off"}, GitHub ${config.events.github ? "configured" : "not configured"}`,
    );
  }

  // ── Run 2: a starved training: worse than production ──
  const bad = await runPipeline(ctx, "worse", { lr: "0.0001", epochs: "1" }, saToken);
  const b = byStep(bad);
  const v2 = b.register?.outputs.version;
  const mv2 = v2 ? (await api("model-versions/get", { name: model, version: v2 })).model_version : undefined;
  const mvTags2 = Object.fromEntries((mv2?.tags ?? []).map((x: any) => [x.key, x.value]));
  report.check(
    "run 2 (lr 0.0001, 1 epoch): registered, refused by the gates (exit 3), the workflow stops there",
    v2 !== undefined && b.gates?.code === 3 && b.tag === undefined && /refused/.test(b.gates.output) && mvTags2.validation === "failed",
    `${bad.map((r) => `${r.step}:${r.code}`).join(" -> ")}; version ${v2}, validation ${mvTags2.validation}; ${(b.gates?.output ?? "")
      .split("\n")
      .filter((l) => /FAIL/.test(l))
      .join(" | ")
      .slice(0, 500)}`,
  );
  report.check(
    `run 2: no ${t.readyTag} tag on the refused version`,
    mv2 !== undefined && mvTags2[t.readyTag] === undefined,
    `version ${v2} tags: ${Object.keys(mvTags2).join(", ")}`,
  );
  let after: any;
  try {
    after = (await api("registered-models/alias", { name: model, alias: t.target })).model_version;
  } catch {
    after = undefined;
  }
  report.check(
    `the pipeline never moves ${t.target} itself (the release pipeline does, after approval)`,
    after?.version === holder?.version,
    `${model}@${t.target}: ${holder?.version ?? "none"} before, ${after?.version ?? "none"} after`,
  );
}
