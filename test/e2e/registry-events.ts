/**
 * The registry events service in the end-to-end run: started from its synthesized command,
 * with local stand-ins for Slack, Discord, GitHub (HTTP servers recording requests) and an SMTP server
 * (STARTTLS with a self-signed certificate, AUTH PLAIN), reached by the REAL tracking server's webhooks
 * through a recording stand-in of its Service. Registry changes go through the load balancer and the
 * proxy like every other client request.
 */
import { execFileSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import * as tls from "tls";
import { registryEventsPodLabels } from "../../constructs/registry-events/command";
import { type Ctx, need } from "./context";
import { LocalDeployment, serviceNames, textRule, type AddressRule, type LocalProcess } from "./lib/deployment";
import { LOOPBACK, freePort, json, request, sleep, waitForHttp } from "./lib/net";
import type { Managed } from "./lib/processes";
import { selects, workloads, type Service, type Workload } from "./lib/workloads";

const API = "/api/2.0/mlflow";

interface Recorded {
  readonly at: number;
  readonly channel: string;
  readonly text: string;
  readonly body: string;
}

/** What the events steps share. */
interface EventsRun {
  lp: LocalProcess;
  proc?: Managed;
  port: number;
  messages: Recorded[];
  deliveries: { headers: http.IncomingHttpHeaders; body: Buffer; status: number }[];
  closers: (() => Promise<void>)[];
  channels: string[];
  model: string;
  figures: { webhookMs: number[]; reconcileMs: number[]; duplicates: number; lost: number };
  workload: Workload;
  service: Service;
  forwarderPort: number;
}
let run: EventsRun | undefined;

/** The events process, for the secret checks of the last step. */
export function eventsProcesses(): LocalProcess[] {
  return run ? [run.lp] : [];
}

/** What the channel stand-ins have received so far (the training pipeline's hand-over check reads it). */
export function eventsMessages(): readonly { readonly at: number; readonly channel: string; readonly text: string }[] {
  return run?.messages ?? [];
}

/** Stops the stand-ins (the processes are stopped by the harness). */
export async function stopEventsStandIns(): Promise<void> {
  for (const c of run?.closers ?? []) await c();
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, LOOPBACK, () => resolve((server.address() as net.AddressInfo).port)));
}

/** What Slack shows for a message's text: its three entities decoded (docs.slack.dev, "Escaping text"). */
export function slackShown(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/\u200b/g, "");
}

/** What Discord shows for a message's content: a backslash before a symbol is that symbol, literally. */
export function discordShown(content: string): string {
  return content.replace(/\\([!-/:-@[-`{-~])/g, "$1").replace(/\u200b/g, "");
}

/** An HTTP stand-in recording every POST (Slack and Discord answer 200/204, GitHub 204). */
async function httpStandIn(r: EventsRun, channel: string): Promise<string> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let text = body;
      try {
        const j = JSON.parse(body);
        text =
          channel === "github"
            ? `${j.event_type} ${JSON.stringify(j.client_payload)} auth=${req.headers.authorization ? "bearer" : "none"} path=${req.url}`
            : channel === "slack"
              ? slackShown(j.text ?? "")
              : channel === "discord"
                ? discordShown(j.content ?? "")
                : body;
      } catch {
        /* recorded as is */
      }
      r.messages.push({ at: Date.now(), channel, text, body });
      res.writeHead(channel === "slack" ? 200 : 204);
      res.end(channel === "slack" ? "ok" : undefined);
    });
  });
  const port = await listen(server);
  r.closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://${LOOPBACK}:${port}`;
}

/** A minimal SMTP server: EHLO, STARTTLS (self-signed certificate), AUTH PLAIN, MAIL, RCPT, DATA. */
async function smtpStandIn(r: EventsRun, dir: string, password: string): Promise<{ port: number; caFile: string }> {
  const key = path.join(dir, "smtp.key");
  const cert = path.join(dir, "smtp.crt");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  const context = tls.createSecureContext({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) });
  const server = net.createServer((raw) => {
    let sock: net.Socket = raw;
    let buf = "";
    let data: string | undefined;
    let secure = false;
    let authed = false;
    const say = (s: string) => sock.write(`${s}\r\n`);
    const onData = (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      for (;;) {
        if (data !== undefined) {
          const end = buf.indexOf("\r\n.\r\n");
          if (end < 0) return;
          data += buf.slice(0, end);
          buf = buf.slice(end + 5);
          const subject = mailHeaders(data).find(([n]) => n.toLowerCase() === "subject")?.[1] ?? "";
          r.messages.push({
            at: Date.now(),
            channel: "email",
            text: `${subject}${secure && authed ? "" : " (NOT over STARTTLS with AUTH)"}`,
            body: data,
          });
          data = undefined;
          say("250 2.0.0 queued");
          continue;
        }
        const nl = buf.indexOf("\r\n");
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.split(" ")[0].toUpperCase();
        if (verb === "EHLO" || verb === "HELO") say(secure ? "250-sink\r\n250 AUTH PLAIN" : "250-sink\r\n250 STARTTLS");
        else if (verb === "STARTTLS") {
          say("220 ready for TLS");
          sock.removeListener("data", onData);
          const t = new tls.TLSSocket(sock, { isServer: true, secureContext: context });
          secure = true;
          sock = t;
          t.on("data", onData);
          t.on("error", () => undefined);
          return;
        } else if (verb === "AUTH") {
          const creds = Buffer.from(line.split(" ")[2] ?? "", "base64")
            .toString("utf8")
            .split("\0");
          authed = secure && creds[2] === password;
          say(authed ? "235 2.7.0 ok" : "535 5.7.8 bad credentials");
        } else if (verb === "MAIL" || verb === "RCPT" || verb === "RSET" || verb === "NOOP")
          say(authed ? "250 ok" : "530 authenticate first");
        else if (verb === "DATA") {
          data = "";
          say("354 go ahead");
        } else if (verb === "QUIT") {
          say("221 bye");
          sock.end();
          return;
        } else say("502 not implemented");
      }
    };
    raw.on("data", onData);
    raw.on("error", () => undefined);
    say("220 sink ESMTP");
  });
  const port = await listen(server);
  r.closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { port, caFile: cert };
}

/** The events Service's stand-in: forwards MLflow's deliveries to the service and keeps a copy of each. */
async function recordingForwarder(r: EventsRun, authority: string, target: () => number): Promise<number> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const headers = { ...req.headers, host: authority };
      const out = http.request({ host: LOOPBACK, port: target(), path: req.url, method: req.method, headers, agent: false }, (up) => {
        const parts: Buffer[] = [];
        up.on("data", (c: Buffer) => parts.push(c));
        up.on("end", () => {
          r.deliveries.push({ headers: req.headers, body, status: up.statusCode ?? 0 });
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(Buffer.concat(parts));
        });
      });
      // The service is down: what a Service without ready endpoints does (connection refused -> 502 here).
      out.on("error", () => {
        r.deliveries.push({ headers: req.headers, body, status: 502 });
        res.writeHead(502);
        res.end();
      });
      out.end(body);
    });
  });
  const port = await listen(server);
  r.closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return port;
}

/**
 * The events Service exists before its pods, like in the cluster: its stand-in (the recording forwarder)
 * listens from the start, so the tracking server's command can name it (the guard's allowed webhook
 * destination) before the service runs. Returns the rule that rewrites the Service's names to it.
 */
export async function reserveEventsService(ctx: Ctx): Promise<AddressRule[]> {
  const json_ = need(ctx.json, "the synthesized stack");
  const dep = need(ctx.deployment, "the deployment");
  const config = need(ctx.config, "the configuration");
  if (!config.events.enabled) return [];
  // Found by its labels, not its name.
  const wanted = registryEventsPodLabels(config);
  const found = workloads(json_).filter((w) => w.kind === "Deployment" && selects(wanted, w.podLabels));
  if (found.length !== 1)
    throw new Error(`expected one Deployment with the registry events labels ${JSON.stringify(wanted)}, found ${found.length}`);
  const w = found[0];
  const svc = dep.services.find((s) => selects(s.selector, w.podLabels));
  if (!svc) throw new Error(`no Service selects ${w.address}`);
  const r: EventsRun = {
    lp: undefined as unknown as LocalProcess,
    port: await freePort(),
    messages: [],
    deliveries: [],
    closers: [],
    channels: [],
    model: "events-demo",
    figures: { webhookMs: [], reconcileMs: [], duplicates: 0, lost: 0 },
    workload: w,
    service: svc,
    forwarderPort: 0,
  };
  run = r;
  const sp = svc.ports[0];
  r.forwarderPort = await recordingForwarder(r, `${serviceNames(svc)[0]}:${sp.port}`, () => r.port);
  ctx.report.info(
    `registry events: ${w.address}, Service ${svc.name}:${svc.ports.map((p) => p.port).join(",")} -> its stand-in ${LOOPBACK}:${r.forwarderPort} (records MLflow's deliveries)`,
  );
  return [eventsServiceRule(r)];
}

function eventsServiceRule(r: EventsRun): AddressRule {
  const sp = r.service.ports[0];
  return {
    why: `Service ${r.service.name} (recording stand-in)`,
    apply: (v) => {
      let out = v;
      for (const n of serviceNames(r.service)) out = out.split(`http://${n}:${sp.port}/`).join(`http://${LOOPBACK}:${r.forwarderPort}/`);
      return out;
    },
  };
}

export async function startRegistryEvents(ctx: Ctx, dnsRules: AddressRule[]): Promise<void> {
  const { report } = ctx;
  const json_ = need(ctx.json, "the synthesized stack");
  const dep = need(ctx.deployment, "the deployment");
  const tools = need(ctx.tools, "the tools");
  const config = need(ctx.config, "the configuration");
  if (!config.events.enabled) throw new Error("events.enabled is false in the dev configuration: nothing to run");
  const r = need(run, "the events Service's stand-in (reserved when the commands were rendered)");
  const w = r.workload;
  const svc = r.service;
  const dir = path.join(ctx.runDir, "registry-events");
  fs.mkdirSync(dir, { recursive: true });
  const slack = await httpStandIn(r, "slack");
  const discord = await httpStandIn(r, "discord");
  const github = await httpStandIn(r, "github");
  const smtpPassword = randomBytes(18).toString("base64url");
  const smtp = await smtpStandIn(r, dir, smtpPassword);

  // Secrets an operator creates (the channel Secret): local values pointing at the stand-ins.
  const e = config.events;
  const external: Record<string, string> = {};
  const put = (ref: { source: string; secretName?: string; key?: string } | undefined, value: string) => {
    if (ref?.source === "kubernetes") external[`${ref.secretName}/${ref.key}`] = value;
  };
  put(e.slack?.webhookUrl, `${slack}/services/T0001/B0001/${randomBytes(12).toString("hex")}`);
  put(e.discord?.webhookUrl, `${discord}/api/webhooks/1/${randomBytes(12).toString("hex")}`);
  put(e.github?.token, `ghp_${randomBytes(18).toString("hex")}`);
  put(e.email?.password, smtpPassword);
  const local = new LocalDeployment(json_, dep.tf, external, path.join(ctx.runDir, "mounts"));

  // The events Service name -> the recording forwarder -> the service's local port.
  const sp = svc.ports[0];
  const fwdPort = r.forwarderPort;
  const eventsRule = eventsServiceRule(r);
  // The tracking server's URL inside the settings document: the same Service rules, applied to the URL itself.
  const trackingRule: AddressRule = {
    why: "in-cluster address of the tracking server (the service's settings)",
    apply: (v, c) =>
      v.replace(/"trackingUri":"([^"]+)"/, (_m, url: string) => `"trackingUri":"${dnsRules.reduce((u, rule) => rule.apply(u, c), url)}"`),
  };
  const settingsRules: AddressRule[] = [
    trackingRule,
    textRule(`"host":"0.0.0.0","port":${sp.port}`, `"host":"${LOOPBACK}","port":${r.port}`, "listen address (the service's settings)"),
    textRule(e.github?.apiUrl ?? "https://api.github.com", github, "GitHub API -> its stand-in"),
    textRule(
      `"smtpHost":"${e.email?.smtpHost}","smtpPort":${e.email?.smtpPort}`,
      `"smtpHost":"${LOOPBACK}","smtpPort":${smtp.port}`,
      "SMTP server -> the sink",
    ),
  ];
  const container = w.containers[0];
  r.lp = local.render(w, container, {
    binaries: { "mlflow-platform": path.join(path.dirname(tools.python), "mlflow-platform") },
    ports: { http: r.port },
    rules: [...dnsRules, eventsRule, ...settingsRules],
    extraEnv: {
      SSL_CERT_FILE: { value: smtp.caFile, why: "trust the SMTP sink's self-signed certificate (in the cluster: the public CA bundle)" },
    },
  });
  // The harness's secret checks cover this process's secrets too.
  for (const v of local.sensitiveValues) dep.sensitiveValues.add(v);
  r.channels = ["slack", "discord", "email", "github"].filter((c) => (e as any)[c]);
  report.info(
    `registry events: as Kubernetes runs it: ${r.lp.synthesized.argv.join(" ")} (env: ${Object.keys(r.lp.synthesized.env).join(", ")})`,
  );
  for (const c of r.lp.changes) report.info(`  local change ${c.where}: ${c.from.slice(0, 160)} -> ${c.to.slice(0, 160)} (${c.why})`);

  await startService(ctx, r);
  // The first pass notified what the earlier steps registered (younger than maxAgeSeconds): start counting now.
  report.info(
    `first reconciliation notified ${r.messages.length} messages about the registry so far (${[...new Set(r.messages.map((m) => m.text.split(":")[0]))].slice(0, 4).join("; ")}...)`,
  );
  r.messages.length = 0;
  r.deliveries.length = 0;
  const metrics = await request(`http://${LOOPBACK}:${r.port}/metrics`, { caller: "scrape" });
  report.check(
    "the service declared its webhook in MLflow at start-up and serves /metrics",
    /mlflow_events_webhook_registered 1\.0/.test(metrics.body),
    `webhook_registered ${/mlflow_events_webhook_registered (\S+)/.exec(metrics.body)?.[1]}; channels ${r.channels.join(", ")}`,
  );
  const hooks = await api(ctx, "GET", "webhooks", {});
  const mine = (hooks.webhooks ?? []).filter((h: any) => h.url.includes(`:${fwdPort}/`));
  report.check(
    "exactly one webhook, declared by the service (not by hand), subscribed to every registry event",
    mine.length === 1 && mine[0].events.length === 6,
    `GET webhooks: ${mine.map((h: any) => `${h.name} -> ${h.url} [${h.events.map((x: any) => `${x.entity}.${x.action}`).join(", ")}] ${h.status}`).join("; ")}`,
  );
}

async function startService(ctx: Ctx, r: EventsRun): Promise<number> {
  const started = Date.now();
  const env = { PATH: `${path.dirname(need(ctx.tools, "tools").python)}:/usr/bin:/bin`, LANG: "C.UTF-8", ...r.lp.env };
  r.proc = ctx.procs.start("registry-events", r.lp.argv, { env });
  await waitForHttp(`http://${LOOPBACK}:${r.port}/readyz`, r.proc, 90_000, 200);
  ctx.report.pass(
    "registry events service is ready (/readyz: webhook declared, first reconciliation done)",
    `${LOOPBACK}:${r.port}, ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return started;
}

function bearer(ctx: Ctx): Record<string, string> {
  return { Authorization: `Bearer ${need(ctx.token, "a signed-in user's token")}` };
}

function api<T = any>(ctx: Ctx, method: "GET" | "POST", endpoint: string, body?: Record<string, unknown>): Promise<T> {
  const url = `${need(ctx.alb, "the load balancer stand-in").url}${API}/${endpoint}`;
  if (method === "GET") return json<T>(`${url}?${new URLSearchParams(body as Record<string, string>)}`, { method, headers: bearer(ctx) });
  return json<T>(url, { method, headers: bearer(ctx), body });
}

/** Which channels each event kind goes to, per the configuration. */
function routes(ctx: Ctx, kind: string): string[] {
  const e = need(ctx.config, "config").events as any;
  return ["slack", "discord", "email", "github"].filter((c) => e[c]?.events.includes(kind));
}

/** Waits until every channel of `kind` has a message matching `match`; returns the delay of each. */
async function arrival(r: EventsRun, channels: string[], match: RegExp, since: number, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = channels.map((c) => r.messages.find((m) => m.channel === c && m.at >= since && match.test(m.text)));
    if (got.every(Boolean)) return got.map((m) => m!.at - since);
    if (Date.now() > deadline) {
      const missing = channels.filter((_, i) => !got[i]);
      throw new Error(
        `no message matching ${match} on ${missing.join(", ")} after ${timeoutMs / 1000} s; received: ${r.messages.map((m) => `${m.channel}: ${m.text.slice(0, 100)}`).join(" | ") || "nothing"}`,
      );
    }
    await sleep(50);
  }
}

/** Counts per channel of messages matching `match`: exactly one each on `channels`, none elsewhere. */
function exactlyOnce(r: EventsRun, channels: string[], match: RegExp): { ok: boolean; detail: string; duplicates: number; lost: number } {
  const counts = ["slack", "discord", "email", "github"].map(
    (c) => [c, r.messages.filter((m) => m.channel === c && match.test(m.text)).length] as const,
  );
  const ok = counts.every(([c, n]) => n === (channels.includes(c) ? 1 : 0));
  const duplicates = counts.reduce((s, [, n]) => s + Math.max(0, n - 1), 0);
  const lost = counts.filter(([c, n]) => channels.includes(c) && n === 0).length;
  return { ok, detail: counts.map(([c, n]) => `${c} ${n}`).join(", "), duplicates, lost };
}

/** A model version of the training run's model, as the registry step creates one. */
function versionSource(ctx: Ctx): (name: string) => Record<string, unknown> {
  const t = need(ctx.training, "the training run");
  return (name) => ({ name, source: t.model_uri, run_id: t.run_id, ...(t.model_id ? { model_id: t.model_id } : {}) });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

export async function eventsByWebhook(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const r = need(run, "the registry events service");
  const config = need(ctx.config, "config");
  const name = r.model;
  const src = versionSource(ctx);
  // MLflow caches each event's webhook list per server process for MLFLOW_WEBHOOK_CACHE_TTL seconds: a
  // change made sooner after the service declared its webhook finds the cached (empty) list and is
  // delivered by reconciliation only. Wait the synthesized TTL out, so this step measures the webhook path.
  const ttl = Number(need(ctx.tracking, "the tracking server").local.env.MLFLOW_WEBHOOK_CACHE_TTL ?? "0");
  if (ttl > 0) await sleep((ttl + 1) * 1000);
  const cases: { what: string; kind: string; match: RegExp; act: () => Promise<unknown> }[] = [
    {
      what: "a new registered model",
      kind: "registered_model.created",
      match: new RegExp(`registered model ${name}|mlflow\\.registered_model\\.created.*${name}`),
      act: () => api(ctx, "POST", "registered-models/create", { name }),
    },
    {
      what: "a new model version",
      kind: "model_version.created",
      match: new RegExp(`New model version: ${name} version 1|mlflow\\.model_version\\.created.*"model":"${name}","version":"1"`),
      act: () => api(ctx, "POST", "model-versions/create", src(name)),
    },
    {
      what: "tag production-ready",
      kind: "model_version_tag.set",
      match: new RegExp(`${name} version 1: tag production-ready=true|mlflow\\.model_version_tag\\.set.*"model":"${name}"`),
      act: () => api(ctx, "POST", "model-versions/set-tag", { name, version: "1", key: "production-ready", value: "true" }),
    },
    {
      what: "alias champion",
      kind: "model_version_alias.created",
      match: new RegExp(`${name}: alias @champion -> version 1|mlflow\\.model_version_alias\\.created.*"model":"${name}"`),
      act: () => api(ctx, "POST", "registered-models/alias", { name, alias: "champion", version: "1" }),
    },
  ];
  for (const c of cases) {
    const chans = routes(ctx, c.kind);
    const t0 = Date.now();
    await c.act();
    const delays = await arrival(r, chans, c.match, t0, 30_000);
    r.figures.webhookMs.push(...delays);
    report.pass(
      `${c.what}: a message on ${chans.join(", ")}`,
      `registry change -> message in ${delays.map((d, i) => `${chans[i]} ${d} ms`).join(", ")}`,
    );
  }
  // Let reconciliation pass over the same objects (twice): nothing may arrive again.
  await sleep((config.events.reconcileSeconds * 2 + 2) * 1000);
  for (const c of cases) {
    const x = exactlyOnce(r, routes(ctx, c.kind), c.match);
    r.figures.duplicates += x.duplicates;
    r.figures.lost += x.lost;
    report.check(`${c.what}: exactly one message per channel after two reconciliation passes`, x.ok, x.detail);
  }
  const metrics = (await request(`http://${LOOPBACK}:${r.port}/metrics`, { caller: "scrape" })).body;
  const webhookEvents = [...metrics.matchAll(/mlflow_events_emitted_total\{kind="([^"]+)",source="webhook"\} (\S+)/g)].map(
    (m) => `${m[1]} ${m[2]}`,
  );
  report.check(
    "the webhook path (not reconciliation) noticed them: MLflow's signed deliveries reached the service",
    webhookEvents.length >= 3 && r.deliveries.some((d) => d.status === 202),
    `events by webhook: ${webhookEvents.join(", ")}; deliveries through the Service stand-in: ${r.deliveries.length} (${[...new Set(r.deliveries.map((d) => d.status))].join(", ")})`,
  );
  const gh = r.messages.find((m) => m.channel === "github");
  report.check(
    "GitHub gets a repository_dispatch with a bearer token on the configured repository",
    !!gh && gh.text.includes(`path=/repos/${config.events.github?.repository}/dispatches`) && gh.text.includes("auth=bearer"),
    gh ? gh.text.slice(0, 200) : "none",
  );
  const mail = r.messages.find((m) => m.channel === "email");
  report.check(
    "e-mail went over STARTTLS (certificate verified) with AUTH",
    !!mail && !mail.text.includes("NOT over"),
    mail ? mail.text : "none",
  );
}

export async function eventsRefusals(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const r = need(run, "the registry events service");
  const genuine = r.deliveries.find((d) => d.status === 202);
  if (!genuine) throw new Error("no genuine delivery from MLflow was recorded to replay");
  const url = `http://${LOOPBACK}:${r.port}/webhooks/mlflow`;
  const headers = (h: http.IncomingHttpHeaders) => ({
    "Content-Type": "application/json",
    "X-MLflow-Delivery-Id": String(h["x-mlflow-delivery-id"]),
    "X-MLflow-Timestamp": String(h["x-mlflow-timestamp"]),
    "X-MLflow-Signature": String(h["x-mlflow-signature"]),
  });
  const before = r.messages.length;
  // An in-cluster attacker's requests (the NetworkPolicy admits only the tracking server): caller "probe".
  const replay = await request(url, { method: "POST", headers: headers(genuine.headers), body: genuine.body, caller: "probe" });
  report.check("a replayed delivery (MLflow's own, sent again) is refused", replay.status === 409, `${replay.status} ${replay.body}`);
  const altered = Buffer.from(genuine.body.toString("utf8").replace(/"name": "([^"]+)"/, '"name": "$1-x"'));
  const changed = await request(url, {
    method: "POST",
    headers: { ...headers(genuine.headers), "X-MLflow-Delivery-Id": `${genuine.headers["x-mlflow-delivery-id"]}` },
    body: altered,
    caller: "probe",
  });
  report.check(
    "a body changed after signing is refused",
    changed.status === 401 && altered.toString() !== genuine.body.toString(),
    `${changed.status} ${changed.body}`,
  );
  const ts = String(Math.floor(Date.now() / 1000));
  const forgedHeaders = {
    ...headers(genuine.headers),
    "X-MLflow-Delivery-Id": `forged-${randomBytes(4).toString("hex")}`,
    "X-MLflow-Timestamp": ts,
    "X-MLflow-Signature": `v1,${randomBytes(32).toString("base64")}`,
  };
  const forged = await request(url, { method: "POST", headers: forgedHeaders, body: genuine.body, caller: "probe" });
  report.check("a forged signature is refused", forged.status === 401, `${forged.status} ${forged.body}`);
  await sleep(1000);
  report.check("none of them produced a message", r.messages.length === before, `${r.messages.length - before} new messages`);
  const metrics = (await request(`http://${LOOPBACK}:${r.port}/metrics`, { caller: "scrape" })).body;
  const refused = [
    ...metrics.matchAll(/mlflow_events_webhook_deliveries_total\{result="(duplicate|bad_signature|stale|malformed)"\} (\S+)/g),
  ].map((m) => `${m[1]} ${m[2]}`);
  report.check(
    "the refusals are counted on /metrics",
    refused.some((x) => x.startsWith("duplicate")) && refused.some((x) => x.startsWith("bad_signature")),
    refused.join(", "),
  );
}

export async function eventsRestart(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const r = need(run, "the registry events service");
  const name = r.model;
  const src = versionSource(ctx);
  await ctx.procs.stop(need(r.proc, "the service process"));
  report.pass("the service is stopped (SIGTERM)", `exit ${JSON.stringify(r.proc?.exit)}`);
  const deliveriesBefore = r.deliveries.length;
  const v2 = (await api(ctx, "POST", "model-versions/create", src(name))).model_version.version;
  for (let i = 0; i < 60; i++) {
    if ((await api(ctx, "GET", "model-versions/get", { name, version: v2 })).model_version.status === "READY") break;
    await sleep(250);
  }
  await api(ctx, "POST", "model-versions/transition-stage", { name, version: v2, stage: "Staging", archive_existing_versions: false });
  // MLflow retries a refused delivery 3 times (1, 2, 4 s backoff), then drops it: wait that out.
  await sleep(12_000);
  const lostDeliveries = r.deliveries.slice(deliveriesBefore);
  report.info(
    `while stopped: version ${v2} created and moved to Staging; MLflow's deliveries meanwhile: ${lostDeliveries.length} attempts, all ${[...new Set(lostDeliveries.map((d) => d.status))].join("/") || "none"} (lost: MLflow keeps nothing)`,
  );
  const created = new RegExp(
    `New model version: ${name} version ${v2}$|mlflow\\.model_version\\.created.*"model":"${name}","version":"${v2}"`,
  );
  const staged = new RegExp(`${name} version ${v2}: stage None -> Staging`);
  const t0 = Date.now();
  await startService(ctx, r);
  const a = await arrival(r, routes(ctx, "model_version.created"), created, t0, 60_000);
  const b = await arrival(r, routes(ctx, "model_version.stage_changed"), staged, t0, 60_000);
  r.figures.reconcileMs.push(...a, ...b);
  report.pass(
    "both events arrive after the restart (reconciliation)",
    `restart -> message: created ${a.join("/")} ms, staged ${b.join("/")} ms (per channel)`,
  );
  await sleep((need(ctx.config, "config").events.reconcileSeconds * 2 + 2) * 1000);
  for (const [what, kind, match] of [
    ["the version created while stopped", "model_version.created", created],
    ["the stage change (no webhook at all)", "model_version.stage_changed", staged],
  ] as const) {
    const x = exactlyOnce(r, routes(ctx, kind), match);
    r.figures.duplicates += x.duplicates;
    r.figures.lost += x.lost;
    report.check(`${what}: exactly one message per channel`, x.ok, x.detail);
  }
  const f = r.figures;
  report.check(
    "figures: duplicates 0, lost 0",
    f.duplicates === 0 && f.lost === 0,
    `registry change -> notification by webhook: median ${median(f.webhookMs)} ms, max ${Math.max(...f.webhookMs)} ms (${f.webhookMs.length} messages); ` +
      `by reconciliation after a restart: median ${median(f.reconcileMs)} ms, max ${Math.max(...f.reconcileMs)} ms (${f.reconcileMs.length}); duplicates ${f.duplicates}, lost ${f.lost}`,
  );
}

/** Metric samples of the service whose name starts with `prefix`, as "labels value" strings. */
async function samples(r: EventsRun, prefix: string): Promise<Map<string, number>> {
  const body = (await request(`http://${LOOPBACK}:${r.port}/metrics`, { caller: "scrape" })).body;
  const out = new Map<string, number>();
  for (const m of body.matchAll(/^(\w+)(\{[^}]*\})? (\S+)$/gm)) if (m[1].startsWith(prefix)) out.set(`${m[1]}${m[2] ?? ""}`, Number(m[3]));
  return out;
}

/** The headers of a recorded e-mail, unfolded (RFC 5322: a line starting with white space continues the last). */
function mailHeaders(raw: string): [string, string][] {
  const head = raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, " ");
  return head
    .split(/\r?\n/)
    .filter(Boolean)
    .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()] as [string, string]);
}

/**
 * Hostile input through the platform's own front door (a signed-in user's REST calls through the proxy):
 * a notified-state tag set ahead, a line break and channel markup in a tag value, and bodies larger than
 * the service accepts. Each was a way around a promise of the events service.
 */
export async function eventsHostileInput(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const r = need(run, "the registry events service");
  const config = need(ctx.config, "config");
  const name = r.model;
  const settle = (config.events.reconcileSeconds * 2 + 2) * 1000;

  // ── The "already notified" state is the service's alone ──
  const forged = { created: true, aliases: { champion: "1", production: "1" } };
  const rejectedBefore = [...(await samples(r, "mlflow_events_state_rejected_total")).values()].reduce((a, b) => a + b, 0);
  await api(ctx, "POST", "registered-models/set-tag", { name, key: "platform.events.notified", value: JSON.stringify(forged) });
  await api(ctx, "POST", "model-versions/set-tag", {
    name,
    version: "1",
    key: "platform.events.notified",
    value: JSON.stringify({ created: true, stage: "None", tags: {} }),
  });
  const t0 = Date.now();
  await api(ctx, "POST", "registered-models/alias", { name, alias: "production", version: "1" });
  const promoted = new RegExp(`${name}: alias @production -> version 1|mlflow\\.model_version_alias\\.created.*"alias":"production"`);
  const chans = routes(ctx, "model_version_alias.created");
  const delays = await arrival(r, chans, promoted, t0, 60_000);
  report.pass(
    "a notified-state tag set ahead by a signed-in user hides nothing: @production moved, the message arrives",
    `forged platform.events.notified ${JSON.stringify(forged)} through the proxy, then @production -> 1: ${delays.map((d, i) => `${chans[i]} ${d} ms`).join(", ")}`,
  );
  await sleep(settle);
  const once = exactlyOnce(r, chans, promoted);
  const tag = ((await api(ctx, "GET", "registered-models/get", { name })).registered_model.tags ?? []).find(
    (t: any) => t.key === "platform.events.notified",
  );
  const sealed = (() => {
    try {
      const v = JSON.parse(tag?.value ?? "");
      return v.v === 2 && typeof v.sig === "string";
    } catch {
      return false;
    }
  })();
  const rejected = [...(await samples(r, "mlflow_events_state_rejected_total")).values()].reduce((a, b) => a + b, 0) - rejectedBefore;
  report.check(
    "exactly once per channel; the service wrote its own signed state back and counted the ones it rejected",
    once.ok && sealed && rejected >= 2,
    `${once.detail}; tag now ${String(tag?.value).slice(0, 80)}...; mlflow_events_state_rejected_total +${rejected}`,
  );

  // ── A line break in a value: every channel gets it once, e-mail headers stay ours ──
  const errorsBefore =
    (await samples(r, "mlflow_events_reconcile_runs_total")).get('mlflow_events_reconcile_runs_total{result="error"}') ?? 0;
  const crlf = "yes\r\nBcc: attacker@example.net";
  const t1 = Date.now();
  await api(ctx, "POST", "model-versions/set-tag", { name, version: "1", key: "production-ready", value: crlf });
  const lineBreak = new RegExp(
    `${name} version 1: tag production-ready=yes {2}Bcc: attacker@example\\.net|mlflow\\.model_version_tag\\.set.*Bcc: attacker`,
  );
  const tagChans = routes(ctx, "model_version_tag.set");
  const d1 = await arrival(r, tagChans, lineBreak, t1, 60_000);
  await sleep(settle);
  const x1 = exactlyOnce(r, tagChans, lineBreak);
  const mail = r.messages.find((m) => m.channel === "email" && m.at >= t1);
  const headers = mail ? mailHeaders(mail.body) : [];
  const names = headers.map(([n]) => n.toLowerCase());
  const errorsAfter =
    (await samples(r, "mlflow_events_reconcile_runs_total")).get('mlflow_events_reconcile_runs_total{result="error"}') ?? 0;
  report.check(
    "a CR/LF in a tag value: each channel gets the message exactly once, no e-mail header added, reconciliation keeps succeeding",
    x1.ok && !!mail && !names.includes("bcc") && errorsAfter === errorsBefore,
    `${d1.map((d, i) => `${tagChans[i]} ${d} ms`).join(", ")}; after two passes ${x1.detail}; e-mail headers ${names.join(", ")}; Subject "${headers.find(([n]) => n === "Subject")?.[1]}"; failed passes +${errorsAfter - errorsBefore}`,
  );

  // ── Channel markup in a value reaches Slack and Discord as text ──
  const markup = "<!channel> <https://evil.example|release notes> [docs](https://evil.example) @everyone <@123456789012345678>";
  const t2 = Date.now();
  await api(ctx, "POST", "model-versions/set-tag", { name, version: "1", key: "production-ready", value: markup });
  const shown = new RegExp(`${name} version 1: tag production-ready=<!channel> <https://evil\\.example\\|release notes>`);
  const markupChans = ["slack", "discord"].filter((c) => tagChans.includes(c));
  await arrival(r, markupChans, shown, t2, 60_000);
  const slackRaw = JSON.parse(r.messages.find((m) => m.channel === "slack" && m.at >= t2)?.body ?? "{}");
  const discordRaw = JSON.parse(r.messages.find((m) => m.channel === "discord" && m.at >= t2)?.body ?? "{}");
  const slackText: string = slackRaw.text ?? "";
  const discordText: string = discordRaw.content ?? "";
  report.check(
    "Slack gets the value as text: &, <, > escaped (no <!channel>, no disguised link), @everyone defused",
    !slackText.includes("<") &&
      slackText.includes("&lt;!channel&gt;") &&
      slackText.includes("&lt;https://evil.example|release notes&gt;") &&
      !slackText.includes("@everyone"),
    `text ${JSON.stringify(slackText)}`,
  );
  report.check(
    "Discord gets the value as text: markdown escaped (no masked link, no <@id>), no mention parsed, no embeds",
    JSON.stringify(discordRaw.allowed_mentions) === JSON.stringify({ parse: [] }) &&
      discordRaw.flags === 4 &&
      !/(^|[^\\])\[docs\]\(/.test(discordText) &&
      !/(^|[^\\])<@/.test(discordText) &&
      !discordText.includes("@everyone"),
    `content ${JSON.stringify(discordText)}, allowed_mentions ${JSON.stringify(discordRaw.allowed_mentions)}, flags ${discordRaw.flags}`,
  );

  // ── Bodies larger than the limit are refused while reading ──
  const declared = await rawPost(r.port, { "Content-Length": String(10 * 1024 * 1024) }, 1024, 1024);
  report.check(
    "a declared Content-Length over the limit: 413 at once, before the body is sent",
    declared.status === 413 && declared.sent <= 1024,
    `10 MiB declared, ${declared.sent} bytes sent: ${declared.status} after ${declared.ms} ms`,
  );
  const total = 1024 * 1024;
  const streamed = await rawPost(r.port, { "Transfer-Encoding": "chunked" }, total, 32 * 1024);
  report.check(
    "a chunked body over the limit: 413 while it is still being sent (the service stops reading)",
    streamed.status === 413 && streamed.sent < total,
    `${streamed.sent} of ${total} bytes sent when the ${streamed.status} arrived (${streamed.ms} ms); limit 262144 bytes`,
  );
  const health = await request(`http://${LOOPBACK}:${r.port}/healthz`, { caller: "probe" });
  report.check("the service keeps serving", health.status === 200, `/healthz ${health.status}`);
}

/**
 * Sends a POST to the webhook path on a raw connection: the headers, then up to `total` bytes of body in
 * `chunk`-sized pieces (chunked encoding when asked), a short pause between pieces so that an early answer
 * is seen before the next piece goes out. Returns the status and how many body bytes were written by then.
 */
function rawPost(
  port: number,
  extra: Record<string, string>,
  total: number,
  chunk: number,
): Promise<{ status: number; sent: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const sock = net.connect(port, LOOPBACK);
    let sent = 0;
    let answer = "";
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0), sent, ms: Date.now() - started });
    };
    sock.setTimeout(20_000, () => {
      done = true;
      sock.destroy();
      reject(new Error(`no answer within 20 s after ${sent} body bytes`));
    });
    sock.on("data", (d: Buffer) => {
      answer += d.toString("latin1");
      if (/^HTTP\/1\.1 \d{3}/.test(answer)) finish();
    });
    sock.on("error", () => setTimeout(finish, 200));
    sock.on("close", () => setTimeout(finish, 200));
    const chunked = extra["Transfer-Encoding"] === "chunked";
    const head = [
      "POST /webhooks/mlflow HTTP/1.1",
      `Host: ${LOOPBACK}:${port}`,
      "Content-Type: application/json",
      ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
    ];
    sock.write(`${head.join("\r\n")}\r\n\r\n`);
    const piece = Buffer.alloc(chunk, 0x20);
    const next = () => {
      if (done) return;
      if (sent >= total) {
        if (chunked) sock.write("0\r\n\r\n");
        return;
      }
      const n = Math.min(chunk, total - sent);
      sock.write(
        chunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), piece.subarray(0, n), Buffer.from("\r\n")]) : piece.subarray(0, n),
      );
      sent += n;
      setTimeout(next, 20);
    };
    next();
  });
}

/**
 * MLflow's webhook API through the platform's front door and from inside the cluster: nobody but the
 * events service may make MLflow post registry events somewhere (MLflow's own SSRF guard is relaxed for
 * the in-cluster receiver).
 */
export async function webhookDestinations(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const r = need(run, "the registry events service");
  const alb = need(ctx.alb, "the load balancer stand-in").url;
  const tracking = need(ctx.tracking, "the tracking server");
  const send = (
    base: string,
    method: string,
    endpoint: string,
    body?: unknown,
    headers: Record<string, string> = bearer(ctx),
    caller: "client" | "probe" = "client",
  ) =>
    request(`${base}${endpoint}`, {
      method,
      headers: { "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      caller,
    });
  const exfil = {
    name: "exfiltrate",
    url: "http://169.254.169.254/latest/meta-data/",
    events: [{ entity: "model_version", action: "created" }],
  };
  const hooksBefore = (await api(ctx, "GET", "webhooks", {})).webhooks ?? [];
  const mine = hooksBefore.find((h: any) => h.url.includes(`:${r.forwarderPort}/`));
  if (!mine) throw new Error("the events service's webhook is not declared");
  const attempts: [string, string, string, unknown][] = [
    ["create a webhook to the instance metadata address", "POST", `${API}/webhooks`, exfil],
    ["the same through the UI's API (/ajax-api)", "POST", "/ajax-api/2.0/mlflow/webhooks", exfil],
    ["retarget the platform's webhook", "PATCH", `${API}/webhooks/${mine.webhook_id}`, { url: "https://collector.example.net/hook" }],
    ["test-fire the platform's webhook", "POST", `${API}/webhooks/${mine.webhook_id}/test`, {}],
    ["delete the platform's webhook", "DELETE", `${API}/webhooks/${mine.webhook_id}`, undefined],
  ];
  const results = [];
  for (const [what, method, endpoint, body] of attempts) {
    const res = await send(alb, method, endpoint, body);
    results.push(
      `${what}: ${res.status} ${(() => {
        try {
          return JSON.parse(res.body).error_code;
        } catch {
          return res.body.slice(0, 60);
        }
      })()}`,
    );
    if (res.status !== 403)
      report.fail(`a signed-in user cannot ${what}`, `${method} ${endpoint} answered ${res.status}: ${res.body.slice(0, 200)}`);
  }
  report.check(
    "a signed-in user cannot create, retarget, test or delete webhooks (403 from the tracking server's guard, through the proxy)",
    results.every((x) => / 403 /.test(x)),
    results.join("; "),
  );
  const after = (await api(ctx, "GET", "webhooks", {})).webhooks ?? [];
  const same =
    after.length === hooksBefore.length &&
    after.some((h: any) => h.webhook_id === mine.webhook_id && h.url === mine.url && h.status === "ACTIVE");
  report.check(
    "reading stays open, and the platform's webhook is untouched",
    same,
    `GET webhooks: ${after.map((h: any) => `${h.name} -> ${h.url} ${h.status}`).join("; ")}`,
  );
  // An in-cluster caller (the platform's own jobs): straight to the tracking server under its Service name.
  const internal = (tracking.local.env.MLFLOW_PLATFORM_INTERNAL_HOSTS ?? "").split(",").filter(Boolean).pop();
  if (!internal) throw new Error("the tracking server's guard names no in-cluster host");
  const direct = `http://${LOOPBACK}:${tracking.port}`;
  const inCluster = await send(
    direct,
    "POST",
    `${API}/webhooks`,
    { ...exfil, url: "http://127.0.0.1:9/steal" },
    { Host: internal },
    "probe",
  );
  report.check(
    "from inside the cluster, a webhook may only post to the events service",
    inCluster.status === 403 && inCluster.body.includes("destination is not allowed"),
    `Host ${internal}: POST webhooks to http://127.0.0.1:9/steal answered ${inCluster.status} ${inCluster.body.slice(0, 160)}; allowed: ${tracking.local.env.MLFLOW_PLATFORM_WEBHOOK_URLS}`,
  );
}

/**
 * Schema-driven fuzzing of the running service (test/e2e/events-fuzz.py, Schemathesis): the OpenAPI
 * document it serves is the contract; every answer must match it, none may be a 5xx, and the service must
 * still notify afterwards.
 */
export async function eventsFuzz(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const r = need(run, "the registry events service");
  const tools = need(ctx.tools, "tools");
  const secret = r.lp.env.MLFLOW_EVENTS_WEBHOOK_SECRET;
  if (!secret) throw new Error("the events service's command has no webhook secret");
  const dir = path.join(ctx.runDir, "events-fuzz");
  const seed = String(Date.now() % 2_147_483_647);
  // Its working directory is the run's (Schemathesis keeps a cache there), never the repository.
  fs.mkdirSync(dir, { recursive: true });
  const res = await ctx.procs.run(
    "events-fuzz",
    [
      tools.python,
      path.join(ctx.repoRoot, "test/e2e/events-fuzz.py"),
      `http://${LOOPBACK}:${r.port}`,
      "--examples",
      "150",
      "--seed",
      seed,
      "--report-dir",
      dir,
    ],
    {
      env: { PATH: `${path.dirname(tools.python)}:/usr/bin:/bin`, LANG: "C.UTF-8", HOME: ctx.runDir, MLFLOW_EVENTS_WEBHOOK_SECRET: secret },
      cwd: dir,
      timeoutMs: 900_000,
    },
  );
  const last = res.output.trim().split("\n").pop() ?? "";
  let f: any;
  try {
    f = JSON.parse(last);
  } catch {
    throw new Error(`events-fuzz.py printed no figures (exit ${res.code}):\n${res.output.slice(-3000)}`);
  }
  const u = f.unsigned;
  const s = f.signed;
  report.check(
    "schema-driven fuzzing (Schemathesis, every check) of the service's documented API: no 5xx, every answer as documented",
    res.code === 0 && u.failures === 0 && s.failures === 0 && !Object.keys(s.statuses).some((k) => k.startsWith("5")),
    `seed ${f.seed}, ${f.seconds} s; unsigned: ${u.inputs} inputs over ${u.operations} operations, ${u.failures} failures${u.failure_details.length ? ` (${u.failure_details.join(" | ")})` : ""}; ` +
      `signed: ${s.inputs} deliveries (answers ${JSON.stringify(s.statuses)}), ${s.failures} failures${s.failure_details.length ? ` (${s.failure_details.join(" | ")})` : ""}; inputs tried in total ${u.inputs + s.inputs}`,
  );
  // Still serving, and still notifying: a real change after the fuzzing.
  const probes = await Promise.all(["/healthz", "/readyz"].map((p) => request(`http://${LOOPBACK}:${r.port}${p}`, { caller: "probe" })));
  const t0 = Date.now();
  await api(ctx, "POST", "model-versions/set-tag", { name: r.model, version: "1", key: "production-ready", value: "after-fuzzing" });
  const chans = routes(ctx, "model_version_tag.set");
  const delays = await arrival(
    r,
    chans,
    new RegExp(`${r.model} version 1: tag production-ready=after-fuzzing|mlflow\\.model_version_tag\\.set.*after-fuzzing`),
    t0,
    60_000,
  );
  report.check(
    "after the fuzzing the service still serves and notifies",
    probes.every((p) => p.status === 200) && r.proc?.exit === undefined,
    `/healthz ${probes[0].status}, /readyz ${probes[1].status}; a new tag -> ${delays.map((d, i) => `${chans[i]} ${d} ms`).join(", ")}`,
  );
}
