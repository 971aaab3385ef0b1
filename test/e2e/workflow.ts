/**
 * The user half of the end-to-end run: what people and pipelines do through the load balancer and
 * the proxy, and what must be refused. Every client request goes to the load balancer stand-in.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { type Ctx, type TrainingResult, need } from "./context";
import type { LocalProcess } from "./lib/deployment";
import { LOOPBACK, freePort, json, portsContacted, request, waitForHttp, type HttpResponse } from "./lib/net";
import { tail } from "./lib/processes";
import { claims } from "./services/oidc";

const API = "/api/2.0/mlflow";

function alb(ctx: Ctx): string {
  return need(ctx.alb, "the load balancer stand-in").url;
}

function bearer(ctx: Ctx): Record<string, string> {
  return { Authorization: `Bearer ${need(ctx.token, "a signed-in user's token")}` };
}

/** A REST call through the load balancer with the user's token. */
function api<T = any>(ctx: Ctx, method: "GET" | "POST" | "PATCH" | "DELETE", endpoint: string, body?: unknown): Promise<T> {
  const url = `${alb(ctx)}${API}/${endpoint}`;
  if (method === "GET" && body) {
    const q = new URLSearchParams(body as Record<string, string>);
    return json<T>(`${url}?${q}`, { method, headers: bearer(ctx) });
  }
  return json<T>(url, { method, headers: bearer(ctx), body });
}

export async function signIn(ctx: Ctx): Promise<void> {
  const oidc = need(ctx.oidc, "the OpenID provider");
  const { idToken } = await oidc.login();
  ctx.token = idToken;
  const c = claims(idToken);
  ctx.report.pass(
    "a pipeline obtains an ID token (authorization-code flow at the provider)",
    `iss ${c.iss}, aud ${c.aud}, email ${c.email}, expires in ${c.exp - Math.floor(Date.now() / 1000)} s`,
  );
}

export async function negativeChecks(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const oidc = need(ctx.oidc, "the OpenID provider");
  const base = alb(ctx);
  const apiPath = `${API}/experiments/search?max_results=1`;
  const get = async (p: string, headers: Record<string, string> = {}) => {
    const r = await request(`${base}${p}`, { headers });
    if (r.status >= 400) ctx.refusals[r.status] = (ctx.refusals[r.status] ?? 0) + 1;
    return r;
  };
  const refused = (r: HttpResponse) => r.status === 401 || r.status === 403;
  const show = (r: HttpResponse) => `${r.status}${r.headers.location ? ` -> ${r.headers.location.slice(0, 90)}...` : ""}`;

  // The positive control first: without it, every refusal below could be a broken setup.
  const ok = await get(apiPath, bearer(ctx));
  report.check("control: a valid token reaches MLflow's API", ok.status === 200, `GET ${apiPath} with a valid token: ${ok.status}`);

  const noToken = await get(apiPath);
  report.check("no token on an API path: 401", noToken.status === 401, `GET ${apiPath}: ${show(noToken)}`);
  const ajax = await get("/ajax-api/2.0/mlflow/experiments/search?max_results=1");
  report.check("no token on the UI's AJAX API: 401", ajax.status === 401, `GET /ajax-api/...: ${show(ajax)}`);
  const ui = await get("/", { Accept: "text/html" });
  const loc = ui.headers.location ?? "";
  report.check(
    "no token on a UI path: redirect to the issuer",
    ui.status === 302 && loc.startsWith(`${oidc.issuer}/authorize`),
    `GET /: ${show(ui)}`,
  );
  const redirect = loc ? new URL(loc).searchParams : new URLSearchParams();
  report.check(
    "the sign-in uses PKCE (S256) and the public callback",
    redirect.get("code_challenge_method") === "S256" &&
      redirect.get("redirect_uri") === `https://${need(ctx.config, "config").hostname}/oauth2/callback`,
    `code_challenge_method=${redirect.get("code_challenge_method")}, redirect_uri=${redirect.get("redirect_uri")}`,
  );

  const cases: [string, Promise<string>][] = [
    ["a token signed by another key", oidc.mint({ key: "other" })],
    ["an expired token", oidc.mint({ ttl: -60 })],
    ["a token for another audience", oidc.mint({ aud: "some-other-client" })],
  ];
  for (const [what, tokenP] of cases) {
    const token = await tokenP;
    const r = await get(apiPath, { Authorization: `Bearer ${token}` });
    report.check(`${what} is refused`, refused(r), `GET ${apiPath}: ${show(r)}`);
  }
  // oauth2-proxy 7.15 skips its e-mail domain check when a token has no e-mail (it falls back to sub;
  // with neither claim the request passed): the tracking server's guard must refuse what names nobody.
  const identityCases: [string, Promise<string>][] = [
    ["a token with neither e-mail nor subject (right issuer and client)", oidc.mint({ omit: ["email", "sub", "preferred_username"] })],
    ["a token without e-mail whose subject is no address", oidc.mint({ omit: ["email"], sub: "svc-no-mail" })],
    ["a token with an e-mail outside the allowed domains", oidc.mint({ email: "eve@not-allowed.example" })],
  ];
  for (const [what, tokenP] of identityCases) {
    const r = await get(apiPath, { Authorization: `Bearer ${await tokenP}` });
    // Who refused shows in the body: the proxy answers HTML, the tracking server's guard PERMISSION_DENIED.
    report.check(`${what} is refused`, refused(r), `GET ${apiPath}: ${show(r)} ${r.body.replace(/\s+/g, " ").slice(0, 110)}`);
  }

  const tampered = need(ctx.token, "token").split(".");
  const payload = { ...claims(ctx.token!), email: "admin@example.com" };
  tampered[1] = Buffer.from(JSON.stringify(payload)).toString("base64url");
  const t = await get(apiPath, { Authorization: `Bearer ${tampered.join(".")}` });
  report.check("a valid token with an edited claim is refused", refused(t), `GET ${apiPath}: ${show(t)}`);

  const spoof = {
    "X-Forwarded-Email": "admin@example.com",
    "X-Forwarded-User": "admin",
    "X-Auth-Request-Email": "admin@example.com",
    "X-Forwarded-Preferred-Username": "admin",
  };
  const s1 = await get(apiPath, spoof);
  report.check("spoofed X-Forwarded-Email/User without a token: API refused", refused(s1), `GET ${apiPath}: ${show(s1)}`);
  const s2 = await get("/", { ...spoof, Accept: "text/html" });
  report.check(
    "spoofed X-Forwarded-Email/User without a token: UI redirected to sign-in",
    s2.status === 302 && (s2.headers.location ?? "").startsWith(oidc.issuer),
    `GET /: ${show(s2)}`,
  );
  const basic = await get(apiPath, { Authorization: `Basic ${Buffer.from("admin:admin").toString("base64")}` });
  report.check("basic credentials are refused", refused(basic), `GET ${apiPath}: ${show(basic)}`);
}

/** A person's browser: redirect to the provider, back to the callback, session cookie, UI. */
export async function browserSignIn(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const config = need(ctx.config, "config");
  const base = alb(ctx);
  const publicOrigin = `https://${config.hostname}`;
  const jar = new Map<string, string>();
  const remember = (r: HttpResponse) => {
    for (const c of ([] as string[]).concat(r.headers["set-cookie"] ?? [])) {
      const [pair] = c.split(";");
      const i = pair.indexOf("=");
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
  };
  const cookie = () => [...jar.entries()].map(([k, v]) => `${k}=${v}`).join("; ");
  // DNS and TLS of the public name end at the load balancer stand-in.
  const local = (u: string) => (u.startsWith(publicOrigin) ? base + u.slice(publicOrigin.length) : u.startsWith("/") ? base + u : u);

  const start = await request(`${base}/`, { headers: { Accept: "text/html" } });
  remember(start);
  const authorize = await request(need(start.headers.location, "redirect to the provider"), { caller: "probe" });
  const callback = need(authorize.headers.location, "the provider's redirect back");
  report.check(
    "the provider sends the browser back to the public callback",
    callback.startsWith(`${publicOrigin}/oauth2/callback?`),
    callback.replace(/code=[^&]+/, "code=..."),
  );
  const back = await request(local(callback), { headers: { Cookie: cookie(), Accept: "text/html" } });
  remember(back);
  const sessionCookie = [...jar.keys()].find((k) => !k.includes("csrf"));
  report.check(
    "the callback sets a session cookie and returns to the UI",
    back.status === 302 && sessionCookie !== undefined,
    `callback: ${back.status} -> ${back.headers.location}, cookies: ${[...jar.keys()].join(", ")}`,
  );
  const page = await request(local(back.headers.location ?? "/"), { headers: { Cookie: cookie(), Accept: "text/html" } });
  report.check(
    "the signed-in browser gets the MLflow UI",
    page.status === 200 && /mlflow/i.test(page.body),
    `GET /: ${page.status}, ${page.body.length} bytes of HTML`,
  );
  const xhr = await request(`${base}/ajax-api/2.0/mlflow/experiments/search?max_results=5`, { headers: { Cookie: cookie() } });
  report.check(
    "the UI's AJAX API works with the session cookie",
    xhr.status === 200,
    `GET /ajax-api/2.0/mlflow/experiments/search: ${xhr.status}`,
  );
}

export async function train(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const tools = need(ctx.tools, "tools");
  const out = path.join(ctx.runDir, "training.json");
  const home = path.join(ctx.runDir, "scientist-home");
  fs.mkdirSync(home, { recursive: true });
  const started = Date.now();
  // Only what a data scientist has: the public URL (here the load balancer stand-in) and a token.
  const env = {
    PATH: `${path.dirname(tools.python)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: home,
    LANG: "C.UTF-8",
    MLFLOW_TRACKING_URI: alb(ctx),
    MLFLOW_TRACKING_TOKEN: need(ctx.token, "token"),
  };
  const r = await ctx.procs.run(
    "train",
    [tools.python, path.join(ctx.repoRoot, "examples/train.py"), "--lr", "0.05", "--batch-size", "16", "--output", out],
    { env, cwd: ctx.repoRoot, timeoutMs: 240_000 },
  );
  if (r.code !== 0) throw new Error(`examples/train.py exited ${r.code}:\n${tail(path.join(ctx.procs.logDir, "train.log"))}`);
  const result = JSON.parse(fs.readFileSync(out, "utf8")) as TrainingResult;
  ctx.training = result;
  report.pass(
    "examples/train.py trained and logged through the proxy",
    `run ${result.run_id}, experiment ${result.experiment_id}, model ${result.model_uri}, accuracy ${result.accuracy.toFixed(3)}, loss ${result.loss.toFixed(4)}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  const run = (await api(ctx, "GET", "runs/get", { run_id: result.run_id })).run;
  const params = Object.fromEntries((run.data.params ?? []).map((p: any) => [p.key, p.value]));
  const tags = Object.fromEntries((run.data.tags ?? []).map((p: any) => [p.key, p.value]));
  report.check(
    "params lr and batch_size are logged",
    params.lr === "0.05" && params.batch_size === "16",
    `lr=${params.lr}, batch_size=${params.batch_size}`,
  );
  const sha = execFileSync("git", ["-C", ctx.repoRoot, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
  report.check("the git SHA is a tag of the run", tags.git_sha === sha, `git_sha=${tags.git_sha}, repository HEAD ${sha}`);
  for (const key of ["loss", "accuracy"]) {
    const h = (await api(ctx, "GET", "metrics/get-history", { run_id: result.run_id, metric_key: key })).metrics ?? [];
    const steps = h.map((m: any) => Number(m.step)).sort((a: number, b: number) => a - b);
    report.check(
      `metric ${key} is logged over steps`,
      h.length === result.epochs && steps[0] === 0 && steps[steps.length - 1] === result.epochs - 1,
      `${h.length} points, steps ${steps[0]}..${steps[steps.length - 1]}, first ${Number(h.find((m: any) => Number(m.step) === 0)?.value).toFixed(4)}, last ${Number(h.find((m: any) => Number(m.step) === result.epochs - 1)?.value).toFixed(4)}`,
    );
  }
  const arts = ((await api(ctx, "GET", "artifacts/list", { run_id: result.run_id })).files ?? []).map((f: any) => f.path);
  const wanted = ["confusion_matrix.png", "feature_names.pkl", "standardscaler.pkl"];
  report.check(
    "the run lists its artifacts",
    wanted.every((w) => arts.includes(w)),
    `artifacts/list: ${arts.join(", ")}`,
  );
}

export async function artifactsInBucket(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const s3 = need(ctx.s3, "the S3 stand-in");
  const t = need(ctx.training, "the training run");
  const bucket = need(ctx.bucket, "bucket");
  const prefix = need(ctx.prefix, "prefix");
  const all = await s3.list(bucket, "");
  const under = all.filter((o) => o.key.startsWith(`${prefix}/`));
  const bytes = under.reduce((n, o) => n + o.size, 0);
  report.info(`s3://${bucket}: ${all.length} objects, ${under.length} under ${prefix}/ (${(bytes / 1024).toFixed(1)} KiB)`);
  for (const o of under) report.info(`  ${o.key} (${o.size} B)`);
  report.check(
    "every object is under the stack's artifact prefix",
    all.length > 0 && under.length === all.length,
    `${under.length}/${all.length} objects under ${prefix}/`,
  );
  const runDir = `${prefix}/${t.experiment_id}/${t.run_id}/artifacts`;
  for (const name of ["confusion_matrix.png", "feature_names.pkl", "standardscaler.pkl"]) {
    const o = under.find((x) => x.key === `${runDir}/${name}`);
    report.check(
      `${name} is in the bucket`,
      o !== undefined && o.size > 0,
      o ? `s3://${bucket}/${o.key}, ${o.size} B` : `no ${runDir}/${name}`,
    );
  }
  const modelFiles = under.filter(
    (o) => t.model_id !== null && o.key.startsWith(`${prefix}/${t.experiment_id}/models/${t.model_id}/artifacts/`),
  );
  const names = modelFiles.map((o) => o.key.split("/").pop());
  report.check(
    "the logged model is in the bucket (MLmodel and the model file)",
    names.includes("MLmodel") && names.some((n) => /^model\.(skops|pkl)$/.test(n ?? "")),
    `${modelFiles.length} files under ${prefix}/${t.experiment_id}/models/${t.model_id}/artifacts/: ${names.join(", ")}`,
  );
}

export async function registry(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const t = need(ctx.training, "the training run");
  const name = "iris-classifier";
  ctx.modelName = name;
  await api(ctx, "POST", "registered-models/create", { name, description: "e2e: iris classifier" });
  const createVersion = async () => {
    const v = (
      await api(ctx, "POST", "model-versions/create", {
        name,
        source: t.model_uri,
        run_id: t.run_id,
        ...(t.model_id ? { model_id: t.model_id } : {}),
      })
    ).model_version;
    for (let i = 0; i < 60; i++) {
      const got = (await api(ctx, "GET", "model-versions/get", { name, version: v.version })).model_version;
      if (got.status === "READY") return got;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`model version ${v.version} never became READY`);
  };
  const v1 = await createVersion();
  report.check(
    "the model is registered (version 1, READY)",
    v1.version === "1" && v1.status === "READY",
    `registered-models/create + model-versions/create: ${name} v${v1.version} ${v1.status}, source ${v1.source}`,
  );

  for (const alias of ["staging", "production"]) {
    await api(ctx, "POST", "registered-models/alias", { name, alias, version: "1" });
    const got = (await api(ctx, "GET", "registered-models/alias", { name, alias })).model_version;
    report.check(
      `alias ${alias} points at version 1`,
      got.version === "1",
      `GET registered-models/alias?alias=${alias}: version ${got.version}`,
    );
  }
  const model = (await api(ctx, "GET", "registered-models/get", { name })).registered_model;
  report.info(`registered model aliases: ${JSON.stringify(model.aliases)}`);

  // The deprecated stages, still used by many teams: None -> Staging -> Production -> Archived.
  const stage = async (version: string, to: string, archive = false) =>
    (await api(ctx, "POST", "model-versions/transition-stage", { name, version, stage: to, archive_existing_versions: archive }))
      .model_version.current_stage;
  const seen = [v1.current_stage];
  seen.push(await stage("1", "Staging"));
  seen.push(await stage("1", "Production"));
  const v2 = await createVersion();
  const v2Stage = await stage(v2.version, "Production", true);
  const v1After = (await api(ctx, "GET", "model-versions/get", { name, version: "1" })).model_version.current_stage;
  seen.push(v1After);
  report.check(
    "stages None -> Staging -> Production -> Archived (v1 archived when v2 goes to Production)",
    seen.join(",") === "None,Staging,Production,Archived" && v2Stage === "Production",
    `v1: ${seen.join(" -> ")}; v2: ${v2.current_stage} -> ${v2Stage}`,
  );
  // Aliases are independent of stages: production still names version 1.
  const prod = (await api(ctx, "GET", "registered-models/alias", { name, alias: "production" })).model_version;
  report.check("alias production is unaffected by stage transitions", prod.version === "1", `production -> version ${prod.version}`);
}

export async function serve(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const tools = need(ctx.tools, "tools");
  const name = need(ctx.modelName, "the registered model");
  const port = await freePort();
  const home = path.join(ctx.runDir, "serving-home");
  fs.mkdirSync(home, { recursive: true });
  const env = {
    PATH: `${path.dirname(tools.python)}:/usr/local/bin:/usr/bin:/bin`,
    HOME: home,
    LANG: "C.UTF-8",
    MLFLOW_TRACKING_URI: alb(ctx),
    MLFLOW_TRACKING_TOKEN: need(ctx.token, "token"),
  };
  const started = Date.now();
  const proc = ctx.procs.start(
    "model-server",
    [
      tools.mlflow,
      "models",
      "serve",
      "-m",
      `models:/${name}@production`,
      "--env-manager",
      "local",
      "-h",
      LOOPBACK,
      "-p",
      String(port),
      "-w",
      "1",
    ],
    { env, cwd: home },
  );
  await waitForHttp(`http://${LOOPBACK}:${port}/ping`, proc, 180_000, 200);
  report.pass(
    `mlflow models serve -m models:/${name}@production is up`,
    `${LOOPBACK}:${port}, ready in ${((Date.now() - started) / 1000).toFixed(1)} s (model downloaded through the proxy)`,
  );
  const classes = ["setosa", "versicolor", "virginica"];
  const invoke = async (body: unknown) => {
    const r = await request(`http://${LOOPBACK}:${port}/invocations`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (r.status !== 200) throw new Error(`POST /invocations answered ${r.status}: ${r.body.slice(0, 300)}`);
    return (JSON.parse(r.body) as { predictions: number[] }).predictions;
  };
  const p1 = await invoke({ inputs: [[5.1, 3.5, 1.4, 0.2]] });
  report.check(
    "POST /invocations {inputs} predicts setosa for [5.1, 3.5, 1.4, 0.2]",
    Number(p1[0]) === 0,
    `predictions ${JSON.stringify(p1)} (${classes[Number(p1[0])]})`,
  );
  const p2 = await invoke({
    dataframe_split: {
      data: [
        [5.1, 3.5, 1.4, 0.2],
        [6.7, 3.0, 5.2, 2.3],
      ],
    },
  });
  report.check(
    "POST /invocations {dataframe_split} predicts setosa and virginica",
    Number(p2[0]) === 0 && Number(p2[1]) === 2,
    `predictions ${JSON.stringify(p2)} (${p2.map((c) => classes[Number(c)]).join(", ")})`,
  );
  await ctx.procs.stop(proc);
}

/** Sums the samples of a Prometheus metric, optionally filtered by a label, from the text format. */
export function promSum(
  text: string,
  metric: string,
  filter: (labels: Record<string, string>) => boolean = () => true,
): { sum: number; series: number } {
  let sum = 0;
  let series = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== metric) continue;
    const labels = Object.fromEntries([...(m[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (!filter(labels)) continue;
    sum += Number(m[4]);
    series++;
  }
  return { sum, series };
}

export async function metrics(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const tracking = need(ctx.tracking, "the tracking server");
  const proxy = need(ctx.proxy, "the proxy");
  const albReqs = need(ctx.alb, "alb").requests;
  // Prometheus scrapes the pods directly (the NetworkPolicy admits the monitoring namespace).
  const t = await request(`http://${LOOPBACK}:${tracking.port}/metrics`, { caller: "scrape" });
  const total = promSum(t.body, "mlflow_http_request_total");
  const ok = promSum(t.body, "mlflow_http_request_total", (l) => l.status === "200");
  const statuses = [...new Set([...t.body.matchAll(/^mlflow_http_request_total\{[^}]*status="(\d+)"/gm)].map((m) => m[1]))].sort();
  report.check(
    "tracking server /metrics counts the traffic",
    t.status === 200 && ok.sum > 0,
    `GET /metrics: ${t.status}; mlflow_http_request_total ${total.sum} over ${total.series} series (status 200: ${ok.sum}; statuses seen ${statuses.join(", ")})`,
  );
  const p = await request(`http://${LOOPBACK}:${proxy.metricsPort}/metrics`, { caller: "scrape" });
  const preq = promSum(p.body, "oauth2_proxy_requests_total");
  const p2xx = promSum(p.body, "oauth2_proxy_requests_total", (l) => /^2/.test(l.code ?? ""));
  const p401 = promSum(p.body, "oauth2_proxy_requests_total", (l) => l.code === "401");
  const p403 = promSum(p.body, "oauth2_proxy_requests_total", (l) => l.code === "403");
  const provoked401 = ctx.refusals["401"] ?? 0;
  const provoked403 = ctx.refusals["403"] ?? 0;
  report.check(
    "proxy metrics port counts the traffic, refusals included",
    p.status === 200 && p2xx.sum > 0 && preq.sum >= albReqs && p401.sum >= provoked401 && p403.sum >= provoked403 && provoked401 > 0,
    `GET :${proxy.metricsPort}/metrics: ${p.status}; oauth2_proxy_requests_total ${preq.sum} (2xx ${p2xx.sum}, 401 ${p401.sum}, 403 ${p403.sum}); the load balancer forwarded ${albReqs}; the negative checks provoked ${provoked401} x 401, ${provoked403} x 403`,
  );
  const app = await request(`${alb(ctx)}/metrics`, { headers: bearer(ctx) });
  report.info(`through the load balancer, /metrics answers ${app.status} to a signed-in user`);
}

export async function garbageCollection(ctx: Ctx, gc: LocalProcess): Promise<void> {
  const { report } = ctx;
  const t = need(ctx.training, "the training run's experiment");
  const s3 = need(ctx.s3, "S3");
  const pg = need(ctx.pg, "postgres");
  const config = need(ctx.config, "config");
  const bucket = need(ctx.bucket, "bucket");
  const prefix = need(ctx.prefix, "prefix");
  const days = config.mlflow.gc.olderThanDays;
  const makeRun = async (label: string) => {
    const run = (await api(ctx, "POST", "runs/create", { experiment_id: t.experiment_id, start_time: Date.now(), run_name: `gc-${label}` }))
      .run;
    const id = run.info.run_id as string;
    const put = await request(`${alb(ctx)}/api/2.0/mlflow-artifacts/artifacts/${t.experiment_id}/${id}/artifacts/probe.txt`, {
      method: "PUT",
      headers: { ...bearer(ctx), "Content-Type": "text/plain" },
      body: `gc probe ${label}\n`,
    });
    if (put.status !== 200) throw new Error(`artifact upload for ${label} answered ${put.status}: ${put.body.slice(0, 200)}`);
    await api(ctx, "POST", "runs/delete", { run_id: id });
    return id;
  };
  const old = await makeRun("old");
  const recent = await makeRun("recent");
  const objects = async (id: string) => (await s3.list(bucket, `${prefix}/${t.experiment_id}/${id}/`)).length;
  const dbName = postgresDatabase(gc);
  // Time passing, simulated: the old run was deleted longer ago than the retention (mlflow.gc.olderThanDays).
  pg.sql(`UPDATE runs SET deleted_time = deleted_time - ${(days + 1) * 86_400_000}::bigint WHERE run_uuid = '${old}'`, dbName);
  report.info(
    `two deleted runs with an artifact each: ${old} (deleted_time moved back ${days + 1} days), ${recent} (deleted now); objects ${await objects(old)} and ${await objects(recent)}`,
  );

  const r = await ctx.procs.run("gc-cronjob", gc.argv, {
    env: { PATH: `${path.dirname(need(ctx.tools, "tools").python)}:/usr/bin:/bin`, LANG: "C.UTF-8", ...gc.env },
    timeoutMs: 180_000,
  });
  const log = path.join(ctx.procs.logDir, "gc-cronjob.log");
  if (r.code !== 0) throw new Error(`the gc CronJob's command exited ${r.code}:\n${tail(log)}`);
  const gone = await request(`${alb(ctx)}${API}/runs/get?run_id=${old}`, { headers: bearer(ctx) });
  const oldObjects = await objects(old);
  report.check(
    `gc removed the run deleted more than ${days} days ago, and its artifacts`,
    gone.status === 404 && oldObjects === 0,
    `runs/get ${old}: ${gone.status}; objects left under its prefix: ${oldObjects}`,
  );
  const kept = await api(ctx, "GET", "runs/get", { run_id: recent });
  const recentObjects = await objects(recent);
  report.check(
    "gc kept the run deleted just now (inside the retention)",
    kept.run.info.lifecycle_stage === "deleted" && recentObjects === 1,
    `runs/get ${recent}: ${kept.run.info.lifecycle_stage}; objects: ${recentObjects}`,
  );
}

function postgresDatabase(p: LocalProcess): string {
  for (const s of [...p.argv, ...Object.values(p.env)]) {
    const m = /postgres(?:ql)?(?:\+\w+)?:\/\/[^/\s]+\/([^?\s,]+)/.exec(s);
    if (m) return m[1];
  }
  throw new Error("no database name in the gc command");
}

export async function onlyThroughProxy(ctx: Ctx, processes: LocalProcess[]): Promise<void> {
  const { report } = ctx;
  const tracking = need(ctx.tracking, "the tracking server");
  const contacted = [...portsContacted.entries()].map(([p, n]) => `${p}${p === ctx.alb?.port ? " (load balancer)" : ""}: ${n}`).join(", ");
  const direct = portsContacted.get(tracking.port) ?? 0;
  report.check(
    "no client request went to the tracking server's port",
    direct === 0 && (portsContacted.get(need(ctx.alb, "alb").port) ?? 0) > 0,
    `tracking server ${LOOPBACK}:${tracking.port}: ${direct} client requests; client requests by port: ${contacted}`,
  );
  const dep = need(ctx.deployment, "deployment");
  const sensitive = [...dep.sensitiveValues].filter((s) => s.length >= 4);
  const leaks = processes.flatMap((p) =>
    p.argv.filter((a) => sensitive.some((s) => a.includes(s))).map((a) => `${p.name}: ${dep.mask(a)}`),
  );
  report.check(
    "no secret value is in any process's arguments",
    leaks.length === 0 && sensitive.length > 0,
    leaks.length
      ? leaks.join("; ")
      : `${processes.length} processes' argv checked against ${sensitive.length} secret values (database password, OIDC client secret, cookie secret)`,
  );
  // Nor in what the processes wrote: their logs are what a cluster would ship to a log store.
  const logDir = ctx.procs.logDir;
  const logLeaks = fs.readdirSync(logDir).filter((f) => {
    const text = fs.readFileSync(path.join(logDir, f), "utf8");
    return sensitive.some((s) => text.includes(s));
  });
  report.check(
    "no secret value is in any process's log",
    logLeaks.length === 0,
    logLeaks.length ? `found in ${logLeaks.join(", ")}` : `${fs.readdirSync(logDir).length} log files checked`,
  );
}
