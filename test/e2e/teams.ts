/**
 * Teams and binding authorization, end to end: a second stack of the dev environment, synthesized with
 * `teams` and `access` (TEAMS_E2E below), run from its synthesized commands on its own PostgreSQL and S3
 * stand-ins, and used through its own oauth2-proxy with bearer tokens the mock provider signs for chosen
 * people (e-mail and groups claims), as the identity provider would.
 *
 * The database is populated first by the same environment WITHOUT teams (what an installation has before
 * the upgrade); then the teams stack's migration Job, access sync Job and tracking server start on it.
 * Last, a group is removed from the configuration, the stack re-synthesized and its sync Job's command
 * re-run (a redeploy): the group's members lose access.
 */
import * as fs from "fs";
import * as path from "path";
import { deepMerge, type DeepPartial } from "../../config/merge";
import type { EnvironmentConfig, EnvironmentInput } from "../../config/schema";
import { envConfig, synthJson } from "../helpers/synth";
import { type Ctx, need } from "./context";
import { E2E_DEREGISTRATION_DELAY_SECONDS, identify, imageEnv, localDeployment, render, type Rendered } from "./deploy";
import { postgresUris, type LocalDeployment, type LocalProcess } from "./lib/deployment";
import { startForwarder, type Forwarder } from "./lib/forwarder";
import { LOOPBACK, freePort, request, waitForHttp, type HttpResponse } from "./lib/net";
import { tail, type Managed } from "./lib/processes";
import { ingressRoutes, workloads, type StackJson } from "./lib/workloads";
import { startPostgres, type Postgres } from "./services/postgres";
import { startS3 } from "./services/s3";

const API = "/api/2.0/mlflow";
const ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts";
const WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE";

/** The people (and the release pipeline) of the run: the e-mail and groups claims of their tokens. */
export const PEOPLE = {
  /** A data scientist of team A (and nothing else). */
  ada: { email: "ada.a@example.com", sub: "e2e-ada", groups: ["team-a-ds"] },
  /** A data scientist of team B. */
  bob: { email: "bob.b@example.com", sub: "e2e-bob", groups: ["team-b-ds"] },
  /** A contractor of team B: the group the revocation step removes from the configuration. */
  carol: { email: "carol.c@example.com", sub: "e2e-carol", groups: ["team-b-contractors"] },
  /** Team A's approver (four-eyes: not in team A's members group). */
  alice: { email: "alice.approver@example.com", sub: "e2e-alice", groups: ["team-a-approvers"] },
  /** A platform administrator. */
  pat: { email: "pat.admin@example.com", sub: "e2e-pat", groups: ["platform-admins"] },
  /** The release pipeline's identity, a member of the group team A gives its release pipeline. */
  release: { email: "release-bot@example.com", sub: "e2e-release", groups: ["ml-release"] },
  /** A user of the installation before the upgrade: the default workspace's group. */
  jane: { email: "jane.doe@example.com", sub: "e2e-jane.doe", groups: ["engineering"] },
} as const;
type Person = keyof typeof PEOPLE;

/** Teams of the e2e stack, merged into the dev entry (the e2e-only configuration; the fixture stays as it is). */
export const TEAMS_E2E: DeepPartial<EnvironmentInput> = {
  teams: [
    { name: "team-a", groups: ["team-a-ds", "ml-release"], approversGroup: "team-a-approvers" },
    { name: "team-b", groups: ["team-b-ds", "team-b-contractors"], approversGroup: "team-b-approvers" },
  ],
  access: {
    platformAdminsGroup: "platform-admins",
    releaseIdentities: [PEOPLE.release.email],
    defaultWorkspace: { groups: ["engineering"], permission: "EDIT" },
  },
} as DeepPartial<EnvironmentInput>;

/** The same, after the revocation: team B's contractors group removed. */
const TEAMS_REVOKED: DeepPartial<EnvironmentInput> = {
  ...TEAMS_E2E,
  teams: [
    { name: "team-a", groups: ["team-a-ds", "ml-release"], approversGroup: "team-a-approvers" },
    { name: "team-b", groups: ["team-b-ds"], approversGroup: "team-b-approvers" },
  ],
} as DeepPartial<EnvironmentInput>;

/** One synthesized and rendered stack of the run (before, teams, revoked). */
interface Stack {
  readonly label: string;
  readonly config: EnvironmentConfig;
  readonly json: StackJson;
  readonly dep: LocalDeployment;
  readonly workloads: NonNullable<Ctx["workloads"]>;
  readonly rendered: Rendered;
}

interface Started {
  tracking: Managed;
  proxy: Managed;
  alb: Forwarder;
}

interface TeamsRun {
  before?: Stack;
  teams?: Stack;
  pg?: Postgres;
  database?: string;
  ports?: { pg: number; s3: number };
  started?: Started;
  tokens: Partial<Record<Person, string>>;
  /** What the installation had before the upgrade. */
  legacy?: {
    experimentId: string;
    runIds: string[];
    model: string;
    versions: string[];
    aliases: Record<string, string>;
    artifact: { path: string; content: string };
    counts: Record<string, number>;
  };
  /** What each team created in its workspace. */
  own: Partial<Record<"a" | "b", { experimentId: string; runId: string; artifactUri: string; model: string; artifactPath: string }>>;
  processes: LocalProcess[];
  seconds: Record<string, number>;
}

const run: TeamsRun = { tokens: {}, own: {}, processes: [], seconds: {} };

/** The teams stack's rendered processes (for the run's last check: no secret in any argument). */
export function teamsProcesses(): LocalProcess[] {
  return run.processes;
}

/** The same overrides the main stack gets (local test profile), without registry events (not what this proves). */
function overrides(ctx: Ctx, extra: DeepPartial<EnvironmentInput>): DeepPartial<EnvironmentInput> {
  const oidc = need(ctx.oidc, "the OpenID provider");
  return deepMerge(
    {
      auth: { localTestProfile: true, issuerUrl: oidc.issuer },
      ingress: { deregistrationDelaySeconds: E2E_DEREGISTRATION_DELAY_SECONDS },
      events: { enabled: false },
    } as DeepPartial<EnvironmentInput>,
    extra,
  );
}

async function synthStack(
  ctx: Ctx,
  label: string,
  extra: DeepPartial<EnvironmentInput>,
  previous?: Stack,
  same?: { mounts: string; ports: Parameters<typeof render>[1] },
): Promise<Stack> {
  const started = Date.now();
  const config = envConfig("dev", overrides(ctx, extra));
  const json = synthJson(config) as StackJson;
  const dir = path.join(ctx.runDir, "teams");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${label}.cdk.tf.json`);
  fs.writeFileSync(file, JSON.stringify(json, null, 2));
  const dep = localDeployment(ctx, config, json, same?.mounts ?? path.join(dir, `mounts-${label}`), previous?.dep);
  const ports = run.ports ?? { pg: await freePort(), s3: await freePort() };
  run.ports = ports;
  const sub: Ctx = { ...ctx, config, json, deployment: dep, ports, workloads: undefined };
  sub.workloads = identify(sub, workloads(json));
  const rendered = await render(sub, same?.ports);
  ctx.report.info(
    `teams: synthesized the "${label}" stack (${(config as { teams?: unknown[] }).teams?.length ?? 0} teams) in ${Date.now() - started} ms: ${file}${
      rendered.sync ? `; access sync Job ${sub.workloads.sync!.address}` : "; no access sync Job"
    }`,
  );
  run.processes.push(rendered.migration, rendered.tracking, rendered.proxy, ...(rendered.sync ? [rendered.sync] : []));
  return { label, config, json, dep, workloads: sub.workloads, rendered };
}

async function job(ctx: Ctx, name: string, lp: LocalProcess): Promise<{ output: string; ms: number }> {
  const started = Date.now();
  const r = await ctx.procs.run(name, lp.argv, { env: { ...imageEnv(ctx), ...lp.env }, timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`${name} (${lp.name}) exited ${r.code}:\n${tail(path.join(ctx.procs.logDir, `${name}.log`))}`);
  return { output: r.output, ms: Date.now() - started };
}

async function startStack(ctx: Ctx, s: Stack): Promise<Started> {
  const t0 = Date.now();
  const tl = s.rendered.tracking;
  const tracking = ctx.procs.start(`teams-${s.label}-tracking-server`, tl.argv, { env: { ...imageEnv(ctx), ...tl.env } });
  const tport = tl.ports[Object.keys(tl.ports)[0]];
  await waitForHttp(`http://${LOOPBACK}:${tport}/health`, tracking, 300_000, 200);
  const proxy = await startProxyOf(ctx, s);
  const route = ingressRoutes(s.json)[0];
  const alb = await startForwarder("alb", route.host === "*" ? s.config.hostname : route.host, proxyPort(s));
  ctx.forwarders.push(alb);
  ctx.report.info(
    `teams: "${s.label}" tracking server ${LOOPBACK}:${tport} healthy, proxy ready, load balancer stand-in ${alb.url} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  return { tracking, proxy, alb };
}

function proxyPort(s: Stack): number {
  const route = ingressRoutes(s.json)[0];
  const svc = s.dep.services.find((x) => x.name === route.serviceName)!;
  const sp = svc.ports.find((p) => p.port === route.servicePort || p.name === route.servicePort) ?? svc.ports[0];
  const lp = s.rendered.proxy;
  if (typeof sp.targetPort === "string") return lp.ports[sp.targetPort];
  const wl = workloads(s.json).find((w) => `${w.name}/${w.containers[0]?.name}` === lp.name);
  const declared = Object.assign({}, ...(wl?.containers ?? []).map((c) => c.command.ports ?? {})) as Record<string, number>;
  return lp.ports[Object.keys(declared).find((k) => declared[k] === sp.targetPort)!];
}

async function startProxyOf(ctx: Ctx, s: Stack): Promise<Managed> {
  const pl = s.rendered.proxy;
  const proxy = ctx.procs.start(`teams-${s.label}-oauth2-proxy`, pl.argv, { env: { ...imageEnv(ctx), ...pl.env } });
  await waitForHttp(`http://${LOOPBACK}:${proxyPort(s)}/ready`, proxy, 30_000, 200);
  return proxy;
}

async function stopStarted(ctx: Ctx): Promise<void> {
  const s = run.started;
  if (!s) return;
  await s.alb.close();
  await ctx.procs.stop(s.proxy);
  await ctx.procs.stop(s.tracking);
  run.started = undefined;
}

async function token(ctx: Ctx, who: Person): Promise<string> {
  const p = PEOPLE[who];
  run.tokens[who] ??= await need(ctx.oidc, "the OpenID provider").mint({ email: p.email, sub: p.sub, groups: [...p.groups], ttl: 3600 });
  return run.tokens[who]!;
}

interface CallOptions {
  ws?: string;
  body?: unknown;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  raw?: string;
  token?: string;
}

/** A request through the running stack's load balancer stand-in, as `who` (a bearer token). */
async function call(ctx: Ctx, who: Person, method: string, endpoint: string, o: CallOptions = {}): Promise<HttpResponse> {
  const alb = need(run.started, "the teams stack").alb;
  const p = endpoint.startsWith("/") ? endpoint : `${API}/${endpoint}`;
  const q = o.query ? `?${new URLSearchParams(o.query)}` : "";
  const headers: Record<string, string> = { Authorization: `Bearer ${o.token ?? (await token(ctx, who))}`, ...(o.headers ?? {}) };
  if (o.ws) headers[WORKSPACE_HEADER] = o.ws;
  if (o.body !== undefined) headers["Content-Type"] = "application/json";
  if (o.raw !== undefined) headers["Content-Type"] = "text/plain";
  const r = await request(`${alb.url}${p}${q}`, {
    method,
    headers,
    body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)),
  });
  if (r.status >= 400) ctx.refusals[r.status] = (ctx.refusals[r.status] ?? 0) + 1;
  return r;
}

/** Like `call`, and the answer must be 2xx: its JSON. */
async function ok<T = any>(ctx: Ctx, who: Person, method: string, endpoint: string, o: CallOptions = {}): Promise<T> {
  const r = await call(ctx, who, method, endpoint, o);
  if (r.status < 200 || r.status >= 300)
    throw new Error(`${who}: ${method} ${endpoint}${o.ws ? ` (workspace ${o.ws})` : ""} answered ${r.status}: ${r.body.slice(0, 300)}`);
  return (r.body ? JSON.parse(r.body) : {}) as T;
}

/** Whether a listing's JSON names `id` (an experiment, run or model id, or a model's name) as a value. */
function listed(r: HttpResponse, id: string): boolean {
  return r.body.includes(`"${id}"`);
}

const brief = (r: HttpResponse) => `${r.status} ${r.body.replace(/\s+/g, " ").slice(0, 140)}`;
/** 403, or the thing does not exist for the caller (404 / RESOURCE_DOES_NOT_EXIST): refused either way. */
const refusedOrAbsent = (r: HttpResponse) => r.status === 403 || r.status === 404 || r.status === 401;
/** A 403 whose message names `rule`. */
function deniedBy(r: HttpResponse, rule: string): boolean {
  if (r.status !== 403) return false;
  try {
    const b = JSON.parse(r.body);
    return b.error_code === "PERMISSION_DENIED" && String(b.message).startsWith(`${rule}:`);
  } catch {
    return false;
  }
}

/** The artifact path of a run's artifact under the artifact proxy (`mlflow-artifacts:/<...>` -> `<...>`). */
function artifactPath(artifactUri: string, file: string): string {
  const m = /^mlflow-artifacts:(\/\/[^/]*)?\/(.*)$/.exec(artifactUri);
  if (!m) throw new Error(`the run's artifact URI ${artifactUri} is not served by the tracking server's artifact proxy`);
  return `${m[2].replace(/\/$/, "")}/${file}`;
}

/** An experiment with one run (params, metrics, an artifact) and a registered model with versions, as `who` in `ws`. */
async function populate(ctx: Ctx, who: Person, ws: string | undefined, label: string, versions: number) {
  const exp = await ok(ctx, who, "POST", "experiments/create", { ws, body: { name: `${label}-experiment` } });
  const experimentId = String(exp.experiment_id);
  const runIds: string[] = [];
  const artifactUris: string[] = [];
  let artifact = { path: "", content: "" };
  for (let i = 0; i < 2; i++) {
    const r = (
      await ok(ctx, who, "POST", "runs/create", {
        ws,
        body: { experiment_id: experimentId, start_time: Date.now(), run_name: `${label}-run-${i}` },
      })
    ).run;
    const runId = String(r.info.run_id);
    runIds.push(runId);
    artifactUris.push(String(r.info.artifact_uri));
    await ok(ctx, who, "POST", "runs/log-batch", {
      ws,
      body: {
        run_id: runId,
        params: [{ key: "lr", value: String(0.01 * (i + 1)) }],
        metrics: [0, 1, 2].map((step) => ({ key: "accuracy", value: 0.5 + 0.1 * step + i / 100, timestamp: Date.now(), step })),
      },
    });
    if (i === 0) {
      const p = artifactPath(r.info.artifact_uri, "notes.txt");
      const content = `${label}: written by ${PEOPLE[who].email}\n`;
      const put = await call(ctx, who, "PUT", `${ARTIFACTS}/${p}`, { ws, raw: content });
      if (put.status !== 200) throw new Error(`${who}: artifact upload ${p} answered ${brief(put)}`);
      artifact = { path: p, content };
    }
    await ok(ctx, who, "POST", "runs/update", { ws, body: { run_id: runId, status: "FINISHED", end_time: Date.now() } });
  }
  const model = `${label}-model`;
  await ok(ctx, who, "POST", "registered-models/create", { ws, body: { name: model } });
  const created: string[] = [];
  for (let v = 0; v < versions; v++) {
    const mv = (
      await ok(ctx, who, "POST", "model-versions/create", {
        ws,
        body: { name: model, source: `${artifactUris[v % runIds.length]}/model`, run_id: runIds[v % runIds.length] },
      })
    ).model_version;
    created.push(String(mv.version));
  }
  return { experimentId, runIds, artifactUris, model, versions: created, artifact };
}

/** Row counts of what the upgrade must keep, read from the database itself. */
function counts(): Record<string, number> {
  const pg = need(run.pg, "the teams stack's database");
  const tables = [
    "experiments",
    "runs",
    "params",
    "metrics",
    "latest_metrics",
    "registered_models",
    "model_versions",
    "registered_model_aliases",
  ];
  return Object.fromEntries(tables.map((t) => [t, Number(pg.sql(`select count(*) from ${t}`, run.database).trim())]));
}

// ── 10a ──────────────────────────────────────────────────────────────────────────────────────────
export async function teamsBefore(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const tools = need(ctx.tools, "tools");
  const t0 = Date.now();
  const before = await synthStack(ctx, "before", {});
  run.before = before;
  report.check(
    "without teams the stack has no access sync Job and the tracking server runs without workspaces",
    !before.rendered.sync && before.rendered.tracking.env.MLFLOW_ENABLE_WORKSPACES === undefined,
    `Jobs: ${workloads(before.json)
      .filter((w) => w.kind === "Job")
      .map((w) => w.name)
      .join(", ")}; tracking argv ${before.rendered.tracking.synthesized.argv.slice(0, 4).join(" ")} ...`,
  );
  const db = need(postgresUris(before.rendered.migration)[0], "the database URI of the migration Job");
  run.database = db.database;
  const ssl = db.sslmode !== null && !["disable", "allow", "prefer"].includes(db.sslmode);
  const pgDir = path.join(ctx.runDir, "teams");
  run.pg = await startPostgres(ctx.procs, pgDir, {
    port: run.ports!.pg,
    database: db.database,
    user: db.user!,
    password: db.password!,
    ssl,
  });
  const bucket = need(
    before.rendered.tracking.argv.find((a) => a.startsWith("s3://")),
    "the artifacts destination",
  )
    .slice(5)
    .split("/")[0];
  await startS3(ctx.procs, tools.motoServer, bucket, before.config.aws.region, run.ports!.s3);
  const mig = await job(ctx, "teams-before-migration-job", before.rendered.migration);
  run.started = await startStack(ctx, before);
  report.pass(
    "a fresh database, the stack without teams: migration Job, tracking server, proxy",
    `PostgreSQL ${LOOPBACK}:${run.ports!.pg} database ${db.database}, S3 stand-in bucket ${bucket}; migration ${(mig.ms / 1000).toFixed(1)} s`,
  );

  // What an installation has: an experiment with runs and an artifact, a model with versions and aliases.
  const legacy = await populate(ctx, "jane", undefined, "legacy", 2);
  const aliases = { production: legacy.versions[1], staging: legacy.versions[0] };
  for (const [alias, version] of Object.entries(aliases))
    await ok(ctx, "jane", "POST", "registered-models/alias", { body: { name: legacy.model, alias, version } });
  const c = counts();
  run.legacy = { ...legacy, aliases, counts: c };
  report.pass(
    "populated through the proxy before the upgrade",
    `experiment ${legacy.experimentId}, runs ${legacy.runIds.join(", ")}, artifact ${legacy.artifact.path}, model ${legacy.model} v${legacy.versions.join(", v")} with aliases ${JSON.stringify(aliases)}; rows ${JSON.stringify(c)}`,
  );
  await stopStarted(ctx);
  run.seconds.before = (Date.now() - t0) / 1000;
}

// ── 10b ──────────────────────────────────────────────────────────────────────────────────────────
export async function teamsUpgrade(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const t0 = Date.now();
  const before = need(run.before, "the stack before the upgrade");
  const legacy = need(run.legacy, "the data logged before the upgrade");
  const teams = await synthStack(ctx, "teams", TEAMS_E2E, before);
  run.teams = teams;
  const sync = need(teams.rendered.sync, "the access sync Job in the teams stack");
  const trackingW = teams.workloads.tracking;
  const syncW = need(teams.workloads.sync, "the access sync Job");
  report.check(
    "the tracking server rolls out after the migration and the access sync Jobs",
    trackingW.dependsOn.some((d) => d === syncW.address) && trackingW.dependsOn.some((d) => d.startsWith("kubernetes_job")),
    `${trackingW.address} depends_on ${JSON.stringify(trackingW.dependsOn)}`,
  );
  const env = teams.rendered.tracking.env;
  report.check(
    "with teams the tracking server runs MLflow's auth app with workspaces, failing closed",
    teams.rendered.tracking.argv.join(" ").includes("--app-name platform-auth") &&
      env.MLFLOW_ENABLE_WORKSPACES === "true" &&
      env.MLFLOW_BASIC_AUTH_FAIL_CLOSED === "true" &&
      !!env.MLFLOW_PLATFORM_ACCESS_POLICY,
    `argv ${teams.rendered.tracking.synthesized.argv.join(" ").slice(0, 200)}; MLFLOW_ENABLE_WORKSPACES=${env.MLFLOW_ENABLE_WORKSPACES}, MLFLOW_BASIC_AUTH_FAIL_CLOSED=${env.MLFLOW_BASIC_AUTH_FAIL_CLOSED}, MLFLOW_PLATFORM_ACCESS_POLICY=${env.MLFLOW_PLATFORM_ACCESS_POLICY}`,
  );
  const mig = await job(ctx, "teams-migration-job", teams.rendered.migration);
  const s = await job(ctx, "teams-access-sync-job", sync);
  const summary = lastJson(s.output);
  report.check(
    "the access sync Job's command creates the workspaces and roles and prints its summary",
    !!summary && n(summary.created) > 0,
    `migration ${(mig.ms / 1000).toFixed(1)} s, sync ${(s.ms / 1000).toFixed(1)} s: ${JSON.stringify(summary)}`,
  );
  const again = await job(ctx, "teams-access-sync-job-again", sync);
  const summary2 = lastJson(again.output);
  report.check(
    "the sync is idempotent: a second run changes nothing",
    !!summary2 && n(summary2.created) === 0 && n(summary2.updated) === 0 && n(summary2.deleted) === 0,
    `second run ${(again.ms / 1000).toFixed(1)} s: ${JSON.stringify(summary2)}`,
  );
  const after = counts();
  const lost = Object.keys(legacy.counts).filter((k) => after[k] !== legacy.counts[k]);
  report.check(
    "the upgrade keeps every row (counts before == after)",
    lost.length === 0,
    lost.length ? `differs: ${lost.map((k) => `${k} ${legacy.counts[k]} -> ${after[k]}`).join(", ")}` : JSON.stringify(after),
  );

  run.started = await startStack(ctx, teams);
  // Everything from before is in the default workspace, for the default workspace's group.
  const exps = (await ok(ctx, "jane", "POST", "experiments/search", { ws: "default", body: { max_results: 1000 } })).experiments ?? [];
  const runs =
    (await ok(ctx, "jane", "POST", "runs/search", { ws: "default", body: { experiment_ids: [legacy.experimentId], max_results: 1000 } }))
      .runs ?? [];
  const model = (await ok(ctx, "jane", "GET", "registered-models/get", { ws: "default", query: { name: legacy.model } })).registered_model;
  const mvs =
    (await ok(ctx, "jane", "GET", "model-versions/search", { ws: "default", query: { filter: `name='${legacy.model}'` } }))
      .model_versions ?? [];
  const aliasMap = Object.fromEntries((model.aliases ?? []).map((a: any) => [a.alias, String(a.version)]));
  const accuracy = runs.map((r: any) => (r.data.metrics ?? []).find((m: any) => m.key === "accuracy")?.value);
  report.check(
    "after the upgrade: the experiment, its runs, the model, its versions and aliases are in `default`, for its group",
    exps.some((e: any) => String(e.experiment_id) === legacy.experimentId) &&
      runs.length === legacy.runIds.length &&
      legacy.runIds.every((id) => runs.some((r: any) => r.info.run_id === id)) &&
      accuracy.every((a: any) => typeof a === "number") &&
      mvs.length === legacy.versions.length &&
      JSON.stringify(aliasMap) === JSON.stringify(Object.fromEntries(Object.entries(legacy.aliases).sort())),
    `${exps.length} experiments, ${runs.length} runs (accuracy ${accuracy.join(", ")}), ${legacy.model}: ${mvs.length} versions, aliases ${JSON.stringify(aliasMap)}`,
  );
  const dl = await call(ctx, "jane", "GET", `${ARTIFACTS}/${legacy.artifact.path}`, { ws: "default" });
  report.check(
    "an artifact logged before the upgrade downloads, unchanged",
    dl.status === 200 && dl.body === legacy.artifact.content,
    `GET ${ARTIFACTS}/${legacy.artifact.path}: ${dl.status}, ${dl.body.length} bytes`,
  );
  // A listing is filtered by MLflow (200 without what the caller may not see); a read by id is refused.
  const outsider = await call(ctx, "ada", "POST", "experiments/search", { ws: "default", body: { max_results: 10 } });
  const outsiderGet = await call(ctx, "ada", "GET", "experiments/get", { ws: "default", query: { experiment_id: legacy.experimentId } });
  report.check(
    "the default workspace is its group's only: a team member outside it neither lists nor reads its experiment",
    (outsider.status === 403 || (outsider.status === 200 && !listed(outsider, legacy.experimentId))) && outsiderGet.status === 403,
    `ada (team-a-ds) in default: POST experiments/search ${brief(outsider)}; GET experiments/get ${brief(outsiderGet)}`,
  );
  run.seconds.upgrade = (Date.now() - t0) / 1000;
}

/** How many entries a summary field lists (the sync names what it created, updated, deleted). */
const n = (v: unknown) => (Array.isArray(v) ? v.length : Number(v ?? 0));

/** The last line of output that parses as a JSON object (the sync Job's summary). */
function lastJson(output: string): Record<string, unknown> | undefined {
  for (const line of output.trim().split("\n").reverse()) {
    try {
      const v = JSON.parse(line.trim());
      if (v && typeof v === "object" && !Array.isArray(v)) return v;
    } catch {
      /* not the summary */
    }
  }
  return undefined;
}

// ── 10c ──────────────────────────────────────────────────────────────────────────────────────────
export async function teamsIsolation(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const t0 = Date.now();
  need(run.started, "the teams stack");
  const a = await populate(ctx, "ada", "team-a", "team-a", 1);
  const b = await populate(ctx, "bob", "team-b", "team-b", 1);
  run.own.a = {
    experimentId: a.experimentId,
    runId: a.runIds[0],
    artifactUri: a.artifactUris[0],
    model: a.model,
    artifactPath: a.artifact.path,
  };
  run.own.b = {
    experimentId: b.experimentId,
    runId: b.runIds[0],
    artifactUri: b.artifactUris[0],
    model: b.model,
    artifactPath: b.artifact.path,
  };
  report.pass(
    "each team works in its own workspace (controls)",
    `ada in team-a: experiment ${a.experimentId}, run ${a.runIds[0]}, model ${a.model}; bob in team-b: experiment ${b.experimentId}, run ${b.runIds[0]}, model ${b.model}`,
  );

  // Team A's member against team B's things: in team B's workspace (403), and by id from her own (absent).
  const tries: [string, string, string, CallOptions][] = [
    ["list team B's experiments", "POST", "experiments/search", { body: { max_results: 100 } }],
    ["read team B's experiment", "GET", "experiments/get", { query: { experiment_id: b.experimentId } }],
    ["search team B's runs", "POST", "runs/search", { body: { experiment_ids: [b.experimentId] } }],
    ["read team B's run", "GET", "runs/get", { query: { run_id: b.runIds[0] } }],
    [
      "write a metric to team B's run",
      "POST",
      "runs/log-metric",
      { body: { run_id: b.runIds[0], key: "x", value: 1, timestamp: Date.now() } },
    ],
    ["rename team B's experiment", "POST", "experiments/update", { body: { experiment_id: b.experimentId, new_name: "taken-over" } }],
    ["delete team B's experiment", "POST", "experiments/delete", { body: { experiment_id: b.experimentId } }],
    ["list team B's artifacts", "GET", "artifacts/list", { query: { run_id: b.runIds[0] } }],
    ["download team B's artifact", "GET", `${ARTIFACTS}/${b.artifact.path}`, {}],
    ["overwrite team B's artifact", "PUT", `${ARTIFACTS}/${b.artifact.path}`, { raw: "overwritten\n" }],
    ["read team B's model", "GET", "registered-models/get", { query: { name: b.model } }],
    ["read team B's model version", "GET", "model-versions/get", { query: { name: b.model, version: b.versions[0] } }],
    [
      "register a version of team B's model",
      "POST",
      "model-versions/create",
      { body: { name: b.model, source: `${a.artifactUris[0]}/model`, run_id: a.runIds[0] } },
    ],
    ["delete team B's model", "DELETE", "registered-models/delete", { body: { name: b.model } }],
  ];
  const failures: string[] = [];
  const lines: string[] = [];
  for (const ws of ["team-b", "team-a"]) {
    for (const [what, method, endpoint, o] of tries) {
      if (ws === "team-b" || !what.startsWith("list")) {
        const r = await call(ctx, "ada", method, endpoint, { ...o, ws });
        // A listing or search is filtered by MLflow: 200 without team B's things is "absent".
        const listing = /\/(search|list)$/.test(endpoint);
        const absentFromListing =
          listing && r.status === 200 && !listed(r, b.experimentId) && !listed(r, b.runIds[0]) && !listed(r, b.model);
        const good = absentFromListing || (ws === "team-b" ? r.status === 403 : refusedOrAbsent(r));
        lines.push(`${what} [${ws}] ${r.status}`);
        if (!good) failures.push(`${what} in workspace ${ws}: ${brief(r)}`);
      }
    }
  }
  report.check(
    "team A's member cannot list, read or write team B's experiments, runs, artifacts or models",
    failures.length === 0,
    failures.length
      ? failures.join("; ")
      : `${lines.length} attempts refused (403 in team-b's workspace, 403/404 by id from team-a's; listings 200 without team B's things): ${lines.join("; ")}`,
  );
  const listA = (await ok(ctx, "ada", "POST", "experiments/search", { ws: "team-a", body: { max_results: 1000 } })).experiments ?? [];
  const modelsA =
    (await ok(ctx, "ada", "GET", "registered-models/search", { ws: "team-a", query: { max_results: "1000" } })).registered_models ?? [];
  report.check(
    "team B's experiment and model are absent from team A's listings",
    !listA.some((e: any) => String(e.experiment_id) === b.experimentId) &&
      !modelsA.some((m: any) => m.name === b.model) &&
      listA.some((e: any) => String(e.experiment_id) === a.experimentId) &&
      modelsA.some((m: any) => m.name === a.model),
    `team-a lists experiments ${listA.map((e: any) => e.name).join(", ")}; models ${modelsA.map((m: any) => m.name).join(", ")}`,
  );
  // Nothing of B's changed.
  const bExp = (await ok(ctx, "bob", "GET", "experiments/get", { ws: "team-b", query: { experiment_id: b.experimentId } })).experiment;
  const bRun = (await ok(ctx, "bob", "GET", "runs/get", { ws: "team-b", query: { run_id: b.runIds[0] } })).run;
  const bArt = await call(ctx, "bob", "GET", `${ARTIFACTS}/${b.artifact.path}`, { ws: "team-b" });
  report.check(
    "team B's things are untouched, and its member still reads them",
    bExp.lifecycle_stage === "active" &&
      bExp.name === "team-b-experiment" &&
      !(bRun.data.metrics ?? []).some((m: any) => m.key === "x") &&
      bArt.body === b.artifact.content,
    `experiment ${bExp.name} ${bExp.lifecycle_stage}, run metrics ${(bRun.data.metrics ?? []).map((m: any) => m.key).join(",")}, artifact ${bArt.status} ${bArt.body.length} bytes`,
  );
  const admin = await call(ctx, "pat", "POST", "experiments/search", { ws: "team-b", body: { max_results: 100 } });
  report.check(
    "a platform admin reads every workspace",
    admin.status === 200 && admin.body.includes(b.experimentId),
    `pat in team-b: ${admin.status}`,
  );
  // A token signed by another key, for a team member, is still refused by the proxy.
  const forged = await need(ctx.oidc, "oidc").mint({
    key: "other",
    email: PEOPLE.ada.email,
    sub: PEOPLE.ada.sub,
    groups: [...PEOPLE.ada.groups],
  });
  const fr = await call(ctx, "ada", "POST", "experiments/search", { ws: "team-a", body: { max_results: 1 }, token: forged });
  report.check("a team member's token signed by another key is refused", fr.status === 401 || fr.status === 403, `${brief(fr)}`);
  run.seconds.isolation = (Date.now() - t0) / 1000;
}

// ── 10d ──────────────────────────────────────────────────────────────────────────────────────────
export async function teamsPromotions(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const t0 = Date.now();
  const a = need(run.own.a, "team A's model");
  const ws = "team-a";
  const name = a.model;
  const attempts: { who: Person; what: string; rule?: string; r: HttpResponse }[] = [];
  const tryIt = async (who: Person, what: string, rule: string | undefined, method: string, endpoint: string, body: unknown) => {
    const r = await call(ctx, who, method, endpoint, { ws, body });
    attempts.push({ who, what, rule, r });
    return r;
  };
  // The data scientist (registrant of version 1).
  await tryIt("ada", "set @production", "protected-alias", "POST", "registered-models/alias", { name, alias: "production", version: "1" });
  await tryIt("ada", "transition to Production", "protected-stage", "POST", "model-versions/transition-stage", {
    name,
    version: "1",
    stage: "Production",
    archive_existing_versions: false,
  });
  await tryIt("ada", "write a platform.gate.* version tag", "platform-tag", "POST", "model-versions/set-tag", {
    name,
    version: "1",
    key: "platform.gate.accuracy",
    value: "passed",
  });
  await tryIt("ada", "write a platform.history.* model tag", "platform-tag", "POST", "registered-models/set-tag", {
    name,
    key: "platform.history.0001",
    value: "{}",
  });
  await tryIt("ada", "approve (not an approver)", "platform-tag", "POST", "model-versions/set-tag", {
    name,
    version: "1",
    key: "platform.approval.production",
    value: "ada",
  });
  await tryIt("ada", "write the events service's state tag", "platform-tag", "POST", "model-versions/set-tag", {
    name,
    version: "1",
    key: "platform.events.state",
    value: "x",
  });
  // Admins are not exempt.
  await tryIt("pat", "set @production (platform admin)", "protected-alias", "POST", "registered-models/alias", {
    name,
    alias: "production",
    version: "1",
  });
  // The release identity may.
  await tryIt("release", "write a platform.gate.* version tag", undefined, "POST", "model-versions/set-tag", {
    name,
    version: "1",
    key: "platform.gate.accuracy",
    value: "passed",
  });
  await tryIt("release", "set @production", undefined, "POST", "registered-models/alias", { name, alias: "production", version: "1" });
  await tryIt("release", "transition to Production", undefined, "POST", "model-versions/transition-stage", {
    name,
    version: "1",
    stage: "Production",
    archive_existing_versions: false,
  });
  // The approver approves another's version, and cannot approve one she registered.
  await tryIt("alice", "approve ada's version 1", undefined, "POST", "model-versions/set-tag", {
    name,
    version: "1",
    key: "platform.approval.production",
    value: PEOPLE.alice.email,
  });
  // Registered as the registry tool registers: the platform.registrant record names who registered.
  const registrant = JSON.stringify({ by: PEOPLE.alice.email, email: PEOPLE.alice.email, sub: PEOPLE.alice.sub });
  const mine = (
    await ok(ctx, "alice", "POST", "model-versions/create", {
      ws,
      body: { name, source: `${a.artifactUri}/model`, run_id: a.runId, tags: [{ key: "platform.registrant", value: registrant }] },
    })
  ).model_version;
  await tryIt("alice", `approve version ${mine.version}, which she registered`, "four-eyes", "POST", "model-versions/set-tag", {
    name,
    version: String(mine.version),
    key: "platform.approval.production",
    value: PEOPLE.alice.email,
  });
  await tryIt("ada", "delete @production", "protected-alias", "DELETE", "registered-models/alias", { name, alias: "production" });

  // MLflow records no creator on a version (user_id stays empty): without the registrant record the
  // four-eyes rule has nobody to compare with. Reported, not asserted: the registry tool always writes it.
  const raw = (
    await ok(ctx, "alice", "POST", "model-versions/create", { ws, body: { name, source: `${a.artifactUri}/model`, run_id: a.runId } })
  ).model_version;
  const rawApproval = await call(ctx, "alice", "POST", "model-versions/set-tag", {
    ws,
    body: { name, version: String(raw.version), key: "platform.approval.production", value: PEOPLE.alice.email },
  });
  report.info(
    `teams: a version alice registered by a bare REST call (no platform.registrant record, MLflow's user_id ${JSON.stringify(raw.user_id ?? null)}), approved by alice: ${brief(rawApproval)}`,
  );

  const bad = attempts.filter((x) => (x.rule ? !deniedBy(x.r, x.rule) : x.r.status !== 200));
  report.check(
    "protected promotions: data scientists and admins refused naming the rule; the release identity and the approver allowed; four-eyes holds",
    bad.length === 0,
    (bad.length ? `wrong: ${bad.map((x) => `${x.who} ${x.what}: ${brief(x.r)}`).join("; ")} | all: ` : "") +
      attempts.map((x) => `${x.who} ${x.what}: ${x.r.status}${x.rule ? ` (${x.rule})` : ""}`).join("; "),
  );
  const m = (await ok(ctx, "ada", "GET", "registered-models/get", { ws, query: { name } })).registered_model;
  const v1 = (await ok(ctx, "ada", "GET", "model-versions/get", { ws, query: { name, version: "1" } })).model_version;
  const tags = Object.fromEntries((v1.tags ?? []).map((t: any) => [t.key, t.value]));
  report.check(
    "what the allowed calls did is recorded, and nothing of the refused ones",
    (m.aliases ?? []).some((x: any) => x.alias === "production" && String(x.version) === "1") &&
      v1.current_stage === "Production" &&
      tags["platform.gate.accuracy"] === "passed" &&
      tags["platform.approval.production"] === PEOPLE.alice.email &&
      !("platform.events.state" in tags) &&
      !(m.tags ?? []).some((t: any) => t.key === "platform.history.0001"),
    `aliases ${JSON.stringify(m.aliases)}, v1 stage ${v1.current_stage}, v1 tags ${JSON.stringify(tags)}`,
  );
  run.seconds.promotions = (Date.now() - t0) / 1000;
}

// ── 10e ──────────────────────────────────────────────────────────────────────────────────────────
export async function teamsSpoofing(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const b = need(run.own.b, "team B's experiment");
  const a = need(run.own.a, "team A's model");
  const admin = { "X-Forwarded-Groups": "platform-admins", "X-Forwarded-Email": PEOPLE.pat.email, "X-Forwarded-User": PEOPLE.pat.sub };
  const internal = { "x-mlflow-platform-identity": "platform-internal", "x-mlflow-platform-groups": "platform-admins,team-b-ds" };
  const noGroups = await need(ctx.oidc, "oidc").mint({ email: "nogroups@example.com", sub: "e2e-nogroups", omit: ["groups"] });
  const cases: [string, Person, CallOptions, (r: HttpResponse) => boolean][] = [
    [
      "X-Forwarded-Groups: platform-admins (and e-mail) on team A's token, reading team B's experiment",
      "ada",
      { ws: "team-b", headers: admin },
      (r) => r.status === 403,
    ],
    [
      "x-mlflow-platform-identity/-groups on team A's token, reading team B's experiment",
      "ada",
      { ws: "team-b", headers: internal },
      (r) => r.status === 403,
    ],
    [
      "both on a token without a groups claim, reading team B's experiment",
      "ada",
      { ws: "team-b", headers: { ...admin, ...internal }, token: noGroups },
      (r) => r.status === 403 || r.status === 401,
    ],
  ];
  // Without the headers team A's member gets 403 reading team B's experiment (10c): the same with them.
  const out: string[] = [];
  let good = true;
  for (const [what, who, o, pass] of cases) {
    const r = await call(ctx, who, "GET", "experiments/get", { ...o, query: { experiment_id: b.experimentId } });
    const l = await call(ctx, who, "POST", "experiments/search", { ...o, body: { max_results: 100 } });
    good = good && pass(r) && (l.status !== 200 || !listed(l, b.experimentId));
    out.push(`${what}: get ${brief(r)}, search ${l.status}${listed(l, b.experimentId) ? " LISTS IT" : " without it"}`);
  }
  const alias = await call(ctx, "ada", "POST", "registered-models/alias", {
    ws: "team-a",
    headers: { "x-mlflow-platform-identity": PEOPLE.release.email, "X-Forwarded-Email": PEOPLE.release.email },
    body: { name: a.model, alias: "staging", version: "1" },
  });
  good = good && deniedBy(alias, "protected-alias");
  out.push(`ada claiming to be the release identity sets @staging: ${brief(alias)}`);
  report.check("identity and group headers a client sends gain nothing", good, out.join("; "));
}

// ── 10f ──────────────────────────────────────────────────────────────────────────────────────────
export async function teamsRevocation(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const t0 = Date.now();
  const teams = need(run.teams, "the teams stack");
  const b = need(run.own.b, "team B's experiment");
  const probe = (who: Person) => call(ctx, who, "GET", "experiments/get", { ws: "team-b", query: { experiment_id: b.experimentId } });
  const before = await probe("carol");
  report.check("control: team B's contractor reads team B's experiment", before.status === 200, `carol in team-b: ${brief(before)}`);

  // A redeploy: the changed configuration re-synthesized; Terraform state keeps the generated values; the
  // kubelet updates the mounted ConfigMap files in place; Kubernetes rolls a Deployment out only when its
  // pod template changed.
  const revoked = await synthStack(ctx, "revoked", TEAMS_REVOKED, teams, {
    mounts: path.join(ctx.runDir, "teams", "mounts-teams"),
    ports: { tracking: teams.rendered.tracking.ports, proxy: teams.rendered.proxy.ports, dnsRules: teams.rendered.dnsRules },
  });
  const sync = need(revoked.rendered.sync, "the access sync Job of the revoked stack");
  const oldSync = need(teams.rendered.sync, "the first access sync Job");
  report.check(
    "a changed policy gives the sync Job a new name (it runs again at the deploy)",
    sync.name !== oldSync.name,
    `${oldSync.name} -> ${sync.name}`,
  );
  const s = await job(ctx, "teams-access-sync-job-revoked", sync);
  const summary = lastJson(s.output);
  // The tracking Deployment's pod template, as Kubernetes compares it to decide on a rollout.
  const template = (st: Stack) => {
    const [type, name] = st.workloads.tracking.address.split(".");
    const spec = (st.json.resource as any)?.[type]?.[name]?.spec;
    return JSON.stringify((Array.isArray(spec) ? spec[0] : spec)?.template);
  };
  let rolled = false;
  if (template(teams) !== template(revoked)) {
    // The Deployment's pod template changed: Kubernetes replaces the pod (same Service, same port here).
    const started = need(run.started, "the teams stack");
    await ctx.procs.stop(started.tracking);
    const tl = revoked.rendered.tracking;
    started.tracking = ctx.procs.start("teams-revoked-tracking-server", tl.argv, { env: { ...imageEnv(ctx), ...tl.env } });
    await waitForHttp(`http://${LOOPBACK}:${tl.ports[Object.keys(tl.ports)[0]]}/health`, started.tracking, 300_000, 200);
    rolled = true;
  }
  // The next request is refused (the per-worker identity cache lasts a few seconds: poll up to 20 s).
  let after = await probe("carol");
  const deadline = Date.now() + 20_000;
  while (after.status === 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    after = await probe("carol");
  }
  const bob = await probe("bob");
  report.check(
    "removing the group from configuration and redeploying revokes its access; the team's other group keeps it",
    after.status === 403 && bob.status === 200,
    `sync ${(s.ms / 1000).toFixed(1)} s ${JSON.stringify(summary)}; tracking server ${rolled ? "rolled out (pod template changed)" : "kept (pod template unchanged, policy file updated in place)"}; carol: ${brief(after)} after ${((Date.now() - t0) / 1000).toFixed(1)} s; bob: ${bob.status}`,
  );

  // No secret of the teams stacks in their processes' arguments or logs.
  const sensitive = [...new Set([...teams.dep.sensitiveValues, ...revoked.dep.sensitiveValues])].filter((v) => v.length >= 4);
  const leaks = run.processes.filter((p) => p.argv.some((x) => sensitive.some((v) => x.includes(v)))).map((p) => p.name);
  const logLeaks = fs
    .readdirSync(ctx.procs.logDir)
    .filter((f) => f.startsWith("teams-") && sensitive.some((v) => fs.readFileSync(path.join(ctx.procs.logDir, f), "utf8").includes(v)));
  report.check(
    "no secret of the teams stacks in their processes' arguments or logs",
    leaks.length === 0 && logLeaks.length === 0 && sensitive.length > 0,
    leaks.length || logLeaks.length
      ? `argv: ${leaks.join(", ")}; logs: ${logLeaks.join(", ")}`
      : `${run.processes.length} processes, ${sensitive.length} secret values`,
  );
  run.seconds.revocation = (Date.now() - t0) / 1000;
  await stopStarted(ctx);
  const total = Object.values(run.seconds).reduce((x, y) => x + y, 0);
  report.info(
    `teams steps: ${Object.entries(run.seconds)
      .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
      .join(", ")}; total ${total.toFixed(1)} s`,
  );
}
