/**
 * The "deployment" half of the end-to-end run: install or reuse the tools, start the identity
 * provider, synthesize the dev stack with the local test profile, and start what the stack would
 * run, in the stack's order, on loopback.
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { envConfig, synthJson } from "../helpers/synth";
import { TOOLS_DIR } from "../helpers/tools";
import { type Ctx, need } from "./context";
import {
  LocalDeployment,
  postgresRule,
  postgresUris,
  s3Uris,
  serviceNames,
  serviceRule,
  type AddressRule,
  type LocalProcess,
} from "./lib/deployment";
import { startForwarder } from "./lib/forwarder";
import { LOOPBACK, freePort, request, waitForHttp } from "./lib/net";
import { runSync, tail } from "./lib/processes";
import { TerraformValues } from "./lib/terraform";
import { selfSignedCertificate } from "./lib/tls";
import { ingressRoutes, selects, workloads, type StackJson, type Workload } from "./lib/workloads";
import type { EnvironmentConfig } from "../../config/schema";
import { startOidc } from "./services/oidc";
import { startPostgres } from "./services/postgres";
import { startS3 } from "./services/s3";
import { E2E_REGISTRY } from "./registry-gates";
import { reserveEventsService } from "./registry-events";
import { TRAINING } from "../fixtures/training";

/** The e-mail of the signed-in user: in an allowed domain of the dev configuration. */
export const USER_EMAIL = "jane.doe@example.com";

export async function tools(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  // Installs what is missing, reuses what is there (pinned versions: config and tools/requirements.txt).
  const out = runSync(["bash", path.join(ctx.repoRoot, "scripts/install-tools.sh")], { cwd: ctx.repoRoot, env: process.env });
  for (const line of out.trim().split("\n")) report.info(line);
  const bin = (p: string) => {
    if (!fs.existsSync(p)) throw new Error(`${p} is missing after scripts/install-tools.sh`);
    return p;
  };
  ctx.tools = {
    python: bin(path.join(TOOLS_DIR, "venv", "bin", "python")),
    mlflow: bin(path.join(TOOLS_DIR, "venv", "bin", "mlflow")),
    motoServer: bin(path.join(TOOLS_DIR, "venv", "bin", "moto_server")),
    oauth2Proxy: bin(path.join(TOOLS_DIR, "bin", "oauth2-proxy")),
    mockoidc: bin(path.join(TOOLS_DIR, "bin", "mockoidc")),
  };
  const base = envConfig("dev");
  const mlflowVersion = runSync([ctx.tools.python, "-c", "import importlib.metadata as m; print(m.version('mlflow'))"]).trim();
  report.check(
    "MLflow is the version the stack pins",
    mlflowVersion === base.mlflow.version,
    `installed ${mlflowVersion}, config mlflow.version ${base.mlflow.version}`,
  );
  const goMeta = runSync(["go", "version", "-m", ctx.tools.oauth2Proxy]);
  const proxyVersion = /^\s+mod\s+github.com\/oauth2-proxy\/oauth2-proxy\/v7\s+v(\S+)/m.exec(goMeta)?.[1];
  report.check(
    "oauth2-proxy is the version the stack pins",
    proxyVersion === base.auth.proxyVersion,
    `built v${proxyVersion}, config auth.proxyVersion ${base.auth.proxyVersion}`,
  );
}

export async function identityProvider(ctx: Ctx): Promise<void> {
  const tools = need(ctx.tools, "the tools");
  const base = envConfig("dev");
  ctx.clientSecret = randomBytes(24).toString("base64url");
  ctx.oidc = await startOidc(ctx.procs, tools.mockoidc, ctx.runDir, base.auth.clientId, ctx.clientSecret, USER_EMAIL);
  ctx.report.pass(
    "mock OpenID provider serves discovery and JWKS",
    `issuer ${ctx.oidc.issuer}, client ${base.auth.clientId}, user ${USER_EMAIL}`,
  );
}

/** The access sync Job's command runs the runtime's access module (teams on): how it is told from the migration Job. */
export function isAccessSync(w: Workload): boolean {
  return w.containers.some((c) => [...c.command.command, ...c.command.args].some((a) => a.includes("mlflow_platform_access")));
}

/** Finds the workloads by how the stack wires them, not by name. */
export function identify(ctx: Ctx, all: Workload[]): NonNullable<Ctx["workloads"]> {
  const { report } = ctx;
  const json = need(ctx.json, "the synthesized stack");
  const dep = need(ctx.deployment, "the deployment");
  const routes = ingressRoutes(json);
  if (routes.length === 0)
    throw new Error(
      "the stack has no Ingress: nothing tells the load balancer where to send users (the AuthProxy construct not wired in stacks/mlflow-stack.ts?)",
    );
  const entryServices = [...new Set(routes.map((r) => r.serviceName))];
  const entryWorkloads = entryServices.flatMap((name) => {
    const svc = dep.services.find((s) => s.name === name);
    if (!svc) throw new Error(`the Ingress routes to Service "${name}", which the stack does not define`);
    return dep.selected(svc, all);
  });
  const proxies = [...new Set(entryWorkloads)].filter((w) => w.kind === "Deployment");
  if (proxies.length !== 1)
    throw new Error(
      `the Ingress should reach exactly one Deployment (the proxy); it reaches ${proxies.length}: ${proxies.map((w) => w.address).join(", ")}`,
    );
  const proxy = proxies[0];
  report.info(
    `ingress ${routes.map((r) => `${r.host}${r.path} -> service ${r.serviceName}:${r.servicePort}`).join("; ")} -> ${proxy.address}`,
  );

  // The upstream: the one Service the proxy's configuration names.
  const proxyStrings = proxy.containers.flatMap((c) => [...c.command.args, ...c.command.env.map((e) => ("value" in e ? e.value : ""))]);
  const upstreamServices = dep.services.filter((s) =>
    s.ports.some((p) => {
      const rule = serviceRule(s, p.port, 1);
      return proxyStrings.some((v) => rule.apply(v, { envName: "" }) !== v);
    }),
  );
  if (upstreamServices.length !== 1)
    throw new Error(
      `the proxy should name exactly one in-cluster Service as its upstream; it names ${upstreamServices.map((s) => s.name).join(", ") || "none"}`,
    );
  const trackers = all.filter((w) => w.kind === "Deployment" && selects(upstreamServices[0].selector, w.podLabels));
  if (trackers.length !== 1)
    throw new Error(
      `the proxy's upstream Service ${upstreamServices[0].name} selects ${trackers.length} Deployments, expected the tracking server alone`,
    );
  const tracking = trackers[0];
  const allJobs = all.filter((w) => w.kind === "Job");
  const syncs = allJobs.filter(isAccessSync);
  if (syncs.length > 1) throw new Error(`expected at most one access sync Job, found ${syncs.length}`);
  const jobs = allJobs.filter((w) => !isAccessSync(w));
  if (jobs.length !== 1)
    throw new Error(
      `expected one Job (the schema migration) besides the access sync, found ${jobs.length}: ${jobs.map((w) => w.address).join(", ")}`,
    );
  // CronJobs by the component their pods are labelled with (app.kubernetes.io/component).
  const cron = (component: string) => {
    const found = all.filter((w) => w.kind === "CronJob" && w.podLabels["app.kubernetes.io/component"] === component);
    if (found.length !== 1)
      throw new Error(
        `expected one CronJob whose pods are app.kubernetes.io/component=${component}, found ${found.length} (CronJobs: ${
          all
            .filter((w) => w.kind === "CronJob")
            .map((w) => w.address)
            .join(", ") || "none"
        })`,
      );
    return found[0];
  };
  const gc = cron("garbage-collection");
  const retention = cron("model-retention");
  report.info(
    `tracking server ${tracking.address} (Service ${upstreamServices[0].name}), proxy ${proxy.address}, migration ${jobs[0].address}${
      syncs.length ? `, access sync ${syncs[0].address}` : ""
    }, gc ${gc.address}, retention ${retention.address}`,
  );
  return { tracking, proxy, migration: jobs[0], sync: syncs[0], gc, retention };
}

/** The e2e's ALB deregistration delay (the proxy's drain follows from it). */
export const E2E_DEREGISTRATION_DELAY_SECONDS = 4;

export async function synthesize(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const oidc = need(ctx.oidc, "the OpenID provider");
  // The local test profile goes through the config system: the dev entry, plus a loopback issuer.
  // The registry section: the gates and retention N the registry steps exercise (test/e2e/registry-gates.ts).
  // The ingress: a short deregistration delay, so the drain step (test/e2e/drain.ts) waits seconds, not minutes.
  // The training pipeline (test/e2e/training.ts): on, with the same provider playing the cluster's issuer.
  const overrides = {
    auth: { localTestProfile: true, issuerUrl: oidc.issuer },
    registry: E2E_REGISTRY,
    ingress: { deregistrationDelaySeconds: E2E_DEREGISTRATION_DELAY_SECONDS },
    training: { ...TRAINING.training, identity: { issuerUrl: oidc.issuer } },
  };
  const config = envConfig("dev", overrides);
  const started = Date.now();
  const json = synthJson(config) as any;
  const file = path.join(ctx.runDir, "cdk.tf.json");
  fs.writeFileSync(file, JSON.stringify(json, null, 2));
  ctx.config = config;
  ctx.json = json;
  const count = Object.values(json.resource ?? {}).reduce((n: number, r: any) => n + Object.keys(r).length, 0);
  report.pass(
    "synthesized the dev stack with the local test profile",
    `${count} resources in ${Date.now() - started} ms (overrides ${JSON.stringify(overrides)}), ${file}`,
  );

  // Addresses the cloud assigns at apply time: the database endpoint becomes the local PostgreSQL's,
  // which is chosen now and started once the commands say what it must look like.
  const pgPort = await freePort();
  ctx.deployment = localDeployment(ctx, config, json, path.join(ctx.runDir, "mounts"));
  ctx.ports = { pg: pgPort, s3: await freePort() };

  const all = workloads(json);
  report.info(`workloads in the stack: ${all.map((w) => `${w.kind} ${w.name}`).join(", ") || "none"}`);
  ctx.workloads = identify(ctx, all);
  const { tracking, migration } = ctx.workloads;
  report.check(
    "the migration Job runs before the tracking server rolls out",
    tracking.dependsOn.includes(migration.address),
    `${tracking.address} depends_on ${JSON.stringify(tracking.dependsOn)}`,
  );
  const lb = ctx.deployment.services.filter((s) => s.type === "LoadBalancer" || s.type === "NodePort");
  report.check(
    "no Service exposes anything outside the cluster (only the Ingress does)",
    lb.length === 0,
    lb.length ? lb.map((s) => `${s.name} is ${s.type}`).join(", ") : `${ctx.deployment.services.length} Services, all ClusterIP`,
  );
}

/**
 * A synthesized stack as `terraform apply` would resolve it locally: the database address kept for the
 * PostgreSQL rule, the bucket's literal name, the OIDC client secret the harness holds, random values
 * generated (or kept from `previous`, as Terraform state keeps them across applies).
 */
export function localDeployment(
  ctx: Ctx,
  config: EnvironmentConfig,
  json: StackJson,
  mountRoot: string,
  previous?: LocalDeployment,
): LocalDeployment {
  const bucketBlock = (expr: string) => {
    const m = /^aws_s3_bucket\.([\w-]+)\.(id|bucket|arn)$/.exec(expr);
    const b = m && json.resource?.aws_s3_bucket?.[m[1]];
    if (!b || typeof b.bucket !== "string") return undefined;
    return m![2] === "arn" ? `arn:aws:s3:::${b.bucket}` : b.bucket;
  };
  const tf = new TerraformValues(json, (expr) => {
    // Kept as written: the database rule below points every PostgreSQL URI at the local database,
    // and a database address left anywhere else stops the run (see LocalDeployment.render).
    if (/^aws_(db_instance|rds_cluster)\.[\w-]+\.(address|endpoint|reader_endpoint|port)$/.test(expr)) return `\${${expr}}`;
    const bucket = bucketBlock(expr);
    if (bucket) return bucket;
    const client = config.auth.clientSecret;
    if (client.source === "secrets-manager" && /^data\.aws_secretsmanager_secret_version\.[\w-]+\.secret_string$/.test(expr)) {
      const ds = json.data?.aws_secretsmanager_secret_version?.[expr.split(".")[2]];
      if (ds?.secret_id === client.secretArn) return ctx.clientSecret;
    }
    return undefined;
  });
  if (previous) tf.keepStateOf(previous.tf);
  // Secrets an operator creates outside the stack: the harness holds their local values.
  const external: Record<string, string> = {};
  if (config.auth.clientSecret.source === "kubernetes") {
    external[`${config.auth.clientSecret.secretName}/${config.auth.clientSecret.key}`] = need(ctx.clientSecret, "the OIDC client secret");
  }
  return new LocalDeployment(json, tf, external, mountRoot);
}

/** Local ports for a workload's declared container ports. */
async function portsFor(w: Workload): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const c of w.containers) for (const name of Object.keys(c.command.ports ?? {})) out[name] = await freePort();
  return out;
}

function logProcess(ctx: Ctx, lp: LocalProcess): void {
  ctx.report.info(
    `${lp.name}: as Kubernetes runs it: ${lp.synthesized.argv.join(" ")} (env: ${Object.keys(lp.synthesized.env).join(", ")})`,
  );
  for (const c of lp.changes) ctx.report.info(`  local change ${c.where}: ${c.from} -> ${c.to} (${c.why})`);
}

/** The environment every local process starts from: what the image provides (PATH, locale). */
export function imageEnv(ctx: Ctx): Record<string, string> {
  return { PATH: `${path.dirname(need(ctx.tools, "tools").python)}:/usr/local/bin:/usr/bin:/bin`, LANG: "C.UTF-8" };
}

export interface Rendered {
  tracking: LocalProcess;
  proxy: LocalProcess;
  migration: LocalProcess;
  /** The access sync Job (teams on). */
  sync?: LocalProcess;
  gc: LocalProcess;
  retention: LocalProcess;
  dnsRules: AddressRule[];
}

/**
 * Renders the MLflow containers (server, migration, access sync, gc) and the proxy, with every address
 * swapped. `ports`: the tracking server's and the proxy's local ports of an earlier rendering (a
 * rollout of the same Deployment: the Services' stand-ins keep pointing at them).
 */
export async function render(
  ctx: Ctx,
  ports?: { tracking: Record<string, number>; proxy: Record<string, number>; dnsRules: AddressRule[] },
): Promise<Rendered> {
  const dep = need(ctx.deployment, "the deployment");
  const wl = need(ctx.workloads, "the workloads");
  const tools = need(ctx.tools, "the tools");
  const config = need(ctx.config, "the configuration");
  const { pg: pgPort, s3: s3Port } = need(ctx.ports, "the local ports");
  const binaries = {
    mlflow: tools.mlflow,
    "/bin/oauth2-proxy": tools.oauth2Proxy,
    "oauth2-proxy": tools.oauth2Proxy,
    "mlflow-platform": path.join(path.dirname(tools.python), "mlflow-platform"),
    // The access sync Job: `python -m mlflow_platform_access sync` in the MLflow image.
    python: tools.python,
    python3: tools.python,
  };
  const trackingPorts = ports?.tracking ?? (await portsFor(wl.tracking));
  const proxyPorts = ports?.proxy ?? (await portsFor(wl.proxy));

  // In-cluster Service names: a loopback stand-in per Service port that a local process serves.
  const local: Map<Workload, Record<string, number>> = new Map([
    [wl.tracking, trackingPorts],
    [wl.proxy, proxyPorts],
  ]);
  const dnsRules: AddressRule[] = ports ? [...ports.dnsRules] : [];
  for (const svc of ports ? [] : dep.services) {
    for (const p of svc.ports) {
      const target = [...local.entries()].find(([w]) => selects(svc.selector, w.podLabels));
      if (!target) continue;
      const [w, ports] = target;
      const containerPorts = Object.assign({}, ...w.containers.map((c) => c.command.ports ?? {})) as Record<string, number>;
      const name =
        typeof p.targetPort === "string" ? p.targetPort : Object.keys(containerPorts).find((k) => containerPorts[k] === p.targetPort);
      if (!name || ports[name] === undefined)
        throw new Error(`Service ${svc.name} port ${p.port} targets ${p.targetPort}, which ${w.address} does not declare`);
      const fwd = await startForwarder("dns", `${serviceNames(svc)[0]}:${p.port}`, ports[name]);
      ctx.forwarders.push(fwd);
      dnsRules.push(serviceRule(svc, p.port, fwd.port));
      ctx.report.info(
        `Service ${svc.name}:${p.port} (${serviceNames(svc).join(", ")}) -> ${w.name} port ${name} at ${LOOPBACK}:${ports[name]}, via ${fwd.url}`,
      );
    }
  }

  const mlflowExtra = {
    MLFLOW_S3_ENDPOINT_URL: { value: `http://${LOOPBACK}:${s3Port}`, why: "S3 endpoint of the stand-in (in AWS: the regional endpoint)" },
    AWS_ACCESS_KEY_ID: { value: "e2e-stand-in", why: "credentials of the S3 stand-in (in EKS: Pod Identity)" },
    AWS_SECRET_ACCESS_KEY: { value: "e2e-stand-in", why: "credentials of the S3 stand-in (in EKS: Pod Identity)" },
    AWS_DEFAULT_REGION: { value: config.aws.region, why: "region (in EKS: set by the Pod Identity agent)" },
  };
  const pg = postgresRule(LOOPBACK, pgPort);
  // VPC ranges the load balancer sends from -> the stand-in's loopback address.
  const vpcRules = config.ingress.vpcCidrs.map((cidr) => ({
    why: "addresses the load balancer sends from (the VPC)",
    apply: (v: string) =>
      v
        .split(",")
        .map((part) => (part === cidr ? `${LOOPBACK}/32` : part))
        .join(","),
  }));
  const one_ = (w: Workload) => {
    if (w.containers.length !== 1) throw new Error(`${w.address} has ${w.containers.length} containers; expected one`);
    if (w.initContainers.length > 0) throw new Error(`${w.address} has init containers, which the harness does not run`);
    return w.containers[0];
  };
  // The events Service's stand-in listens already: the tracking server's guard names it as the only webhook destination.
  const eventsRules = await reserveEventsService(ctx);
  const tracking = dep.render(wl.tracking, one_(wl.tracking), {
    binaries,
    ports: trackingPorts,
    rules: [pg, ...dnsRules, ...eventsRules],
    extraEnv: mlflowExtra,
  });
  const migration = dep.render(wl.migration, one_(wl.migration), { binaries, rules: [pg, ...dnsRules], extraEnv: mlflowExtra });
  const sync = wl.sync && dep.render(wl.sync, one_(wl.sync), { binaries, rules: [pg, ...dnsRules], extraEnv: mlflowExtra });
  const gc = dep.render(wl.gc, one_(wl.gc), { binaries, rules: [pg, ...dnsRules], extraEnv: mlflowExtra });
  const proxy = dep.render(wl.proxy, one_(wl.proxy), { binaries, ports: proxyPorts, rules: [...dnsRules, ...vpcRules] });
  // boto3 reads its S3 endpoint from AWS_ENDPOINT_URL_S3 (MLflow's MLFLOW_S3_ENDPOINT_URL is MLflow's own).
  const retention = dep.render(wl.retention, one_(wl.retention), {
    binaries,
    rules: [...dnsRules],
    extraEnv: {
      ...mlflowExtra,
      AWS_ENDPOINT_URL_S3: {
        value: `http://${LOOPBACK}:${s3Port}`,
        why: "S3 endpoint of the stand-in, for boto3 (in AWS: the regional endpoint)",
      },
    },
  });
  for (const lp of [migration, ...(sync ? [sync] : []), tracking, proxy, gc, retention]) logProcess(ctx, lp);
  return { tracking, proxy, migration, sync, gc, retention, dnsRules };
}

export async function databaseAndBucket(ctx: Ctx, procs: { migration: LocalProcess; tracking: LocalProcess }): Promise<void> {
  const { report } = ctx;
  const uris = postgresUris(procs.migration);
  if (uris.length === 0) throw new Error("the migration Job's command names no PostgreSQL URI");
  const db = uris[0];
  if (!db.user || !db.password)
    throw new Error(
      `the database URI names no user or the password is neither in it nor in PGPASSWORD (${procs.migration.synthesized.env.MLFLOW_BACKEND_STORE_URI ?? ""})`,
    );
  const ssl = db.sslmode !== null && db.sslmode !== "disable" && db.sslmode !== "allow" && db.sslmode !== "prefer";
  ctx.pg = await startPostgres(ctx.procs, ctx.runDir, {
    port: need(ctx.ports, "ports").pg,
    database: db.database,
    user: db.user,
    password: db.password,
    ssl,
  });
  report.pass(
    "PostgreSQL started as the stack's URI names it",
    `${ctx.pg.version}, ${LOOPBACK}:${ctx.pg.port}, database ${db.database}, user ${db.user}, sslmode=${db.sslmode ?? "(none)"}${ssl ? ", TLS on (self-signed), non-TLS TCP logins rejected" : ""}`,
  );

  const dest = s3Uris(procs.tracking);
  if (dest.length === 0) throw new Error("the tracking server's command names no s3:// artifacts destination");
  ctx.bucket = dest[0].bucket;
  ctx.prefix = dest[0].prefix;
  const stackBuckets = Object.values((ctx.json as any).resource?.aws_s3_bucket ?? {}).map((b: any) => b.bucket);
  report.check(
    "the artifacts destination is the stack's bucket",
    stackBuckets.includes(ctx.bucket),
    `s3://${ctx.bucket}/${ctx.prefix}; buckets in the stack: ${stackBuckets.join(", ") || "none"}`,
  );
  ctx.s3 = await startS3(
    ctx.procs,
    need(ctx.tools, "tools").motoServer,
    ctx.bucket,
    need(ctx.config, "config").aws.region,
    need(ctx.ports, "ports").s3,
  );
  report.pass("S3 stand-in (moto_server) serves the bucket", `${ctx.s3.endpoint}, bucket ${ctx.bucket}`);
}

export async function migrate(ctx: Ctx, lp: LocalProcess): Promise<void> {
  const started = Date.now();
  const r = await ctx.procs.run("migration-job", lp.argv, { env: { ...imageEnv(ctx), ...lp.env }, timeoutMs: 180_000 });
  const logFile = path.join(ctx.procs.logDir, "migration-job.log");
  if (r.code !== 0) throw new Error(`the migration Job's command exited ${r.code}:\n${tail(logFile)}`);
  const version = need(ctx.pg, "postgres")
    .sql("select version_num from alembic_version", need(postgresUris(lp)[0], "db").database)
    .trim();
  ctx.report.check(
    "the migration Job's command created the schema",
    /^[0-9a-f]+$/.test(version),
    `exit 0 in ${((Date.now() - started) / 1000).toFixed(1)} s, alembic_version ${version}`,
  );
}

export async function startTracking(ctx: Ctx, lp: LocalProcess): Promise<void> {
  const port = lp.ports[Object.keys(lp.ports)[0]];
  const proc = ctx.procs.start("tracking-server", lp.argv, { env: { ...imageEnv(ctx), ...lp.env } });
  ctx.tracking = { proc, local: lp, port };
  const started = Date.now();
  // Generous: on a shared 2-core machine under load the first start takes minutes (not a figure we assert).
  await waitForHttp(`http://${LOOPBACK}:${port}/health`, proc, 300_000, 200);
  const version = await request(`http://${LOOPBACK}:${port}/version`, { caller: "probe" });
  ctx.report.pass(
    "tracking server is healthy (kubelet-style probe on /health)",
    `${LOOPBACK}:${port}, version ${version.body.trim()}, ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

export async function startProxy(ctx: Ctx, lp: LocalProcess): Promise<void> {
  const config = need(ctx.config, "config");
  const json = need(ctx.json, "stack");
  const wl = need(ctx.workloads, "workloads");
  const proc = ctx.procs.start("oauth2-proxy", lp.argv, { env: { ...imageEnv(ctx), ...lp.env } });
  // The port the Service behind the Ingress targets; the other one is metrics.
  const route = ingressRoutes(json)[0];
  const svc = need(ctx.deployment, "deployment").services.find((s) => s.name === route.serviceName)!;
  const sp = svc.ports.find((p) => p.port === route.servicePort || p.name === route.servicePort) ?? svc.ports[0];
  const ports = Object.assign({}, ...wl.proxy.containers.map((c) => c.command.ports ?? {})) as Record<string, number>;
  const httpName = typeof sp.targetPort === "string" ? sp.targetPort : Object.keys(ports).find((k) => ports[k] === sp.targetPort)!;
  const metricsName = Object.keys(lp.ports).find((k) => k !== httpName);
  if (!metricsName) throw new Error("the proxy declares no port besides the one the Ingress targets: no metrics port");
  const port = lp.ports[httpName];
  const metricsPort = lp.ports[metricsName];
  ctx.proxy = { proc, local: lp, port, metricsPort };
  await waitForHttp(`http://${LOOPBACK}:${port}/ping`, proc, 30_000, 200);
  await waitForHttp(`http://${LOOPBACK}:${port}/ready`, proc, 30_000, 200);

  const publicHost = route.host === "*" ? config.hostname : route.host;
  ctx.alb = await startForwarder("alb", publicHost, port);
  ctx.forwarders.push(ctx.alb);
  // The same load balancer's HTTPS listener, with a certificate for the public name: what a browser opens.
  ctx.publicCertificate = selfSignedCertificate(path.join(ctx.runDir, "tls"), publicHost);
  ctx.albHttps = await startForwarder("alb", publicHost, port, ctx.publicCertificate);
  ctx.forwarders.push(ctx.albHttps);
  ctx.report.pass(
    "oauth2-proxy is ready (/ping, /ready)",
    `${LOOPBACK}:${port} (metrics ${LOOPBACK}:${metricsPort}); load balancer stand-in for https://${route.host} at ${ctx.alb.url} (TLS terminated) and ${ctx.albHttps.url} (TLS, self-signed certificate for ${publicHost})`,
  );
}
