/**
 * Runtime figures of the e2e: the tracking server pod's memory, measured from its process
 * tree, next to the Deployment's limit; and the latency of a kept-alive request through the proxy next
 * to a fresh connection's. See docs/runtime.md.
 */
import * as fs from "fs";
import * as http from "http";
import { parseMemory } from "../../constructs/core/quantity";
import { type Ctx, need } from "./context";
import { LOOPBACK } from "./lib/net";

/**
 * The measured PSS of an idle tracking-server pod must stay below this fraction of its memory limit:
 * the rest is headroom for requests in flight (artifact buffers, large searches). See docs/runtime.md.
 */
export const MAX_IDLE_PSS_FRACTION = 0.5;

/** A kept-alive request through the proxy may be at most this much slower than a fresh connection to MLflow. */
export const KEEPALIVE_MARGIN_MS = 15;

/** Every process of a process group, with its PSS (kB) from /proc/<pid>/smaps_rollup. */
export function processGroupPss(pgid: number): { pid: number; comm: string; pssKb: number }[] {
  const out: { pid: number; comm: string; pssKb: number }[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid pgrp ...: comm may contain spaces, so split after the last ')'.
      const close = stat.lastIndexOf(")");
      const fields = stat.slice(close + 2).split(" ");
      if (Number(fields[2]) !== pgid) continue;
      const rollup = fs.readFileSync(`/proc/${entry}/smaps_rollup`, "utf8");
      const pss = /^Pss:\s+(\d+) kB/m.exec(rollup);
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      const comm = cmdline
        .slice(0, 4)
        .map((a) => a.split("/").pop())
        .join(" ")
        .slice(0, 60);
      out.push({ pid: Number(entry), comm, pssKb: pss ? Number(pss[1]) : 0 });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** The tracking server Deployment's container memory limit, as synthesized. */
function trackingMemoryLimit(ctx: Ctx): string {
  const json = need(ctx.json, "the synthesized stack") as any;
  const name = need(ctx.workloads, "the workloads").tracking.name;
  const dep = Object.values(json.resource?.kubernetes_deployment_v1 ?? {}).find((d: any) => d.metadata.name === name) as any;
  const limit = dep?.spec?.template?.spec?.container?.[0]?.resources?.limits?.memory;
  if (typeof limit !== "string") throw new Error(`the tracking server Deployment ${name} has no memory limit`);
  return limit;
}

export async function memory(ctx: Ctx): Promise<void> {
  const tracking = need(ctx.tracking, "the tracking server");
  // Let the job runner (when on) start its consumers: the figure is the idle pod's.
  await new Promise((r) => setTimeout(r, 15_000));
  const procs = processGroupPss(tracking.proc.pid);
  const totalKb = procs.reduce((n, p) => n + p.pssKb, 0);
  const limit = trackingMemoryLimit(ctx);
  const limitBytes = parseMemory(limit)!;
  const pssBytes = totalKb * 1024;
  const mib = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;
  for (const p of procs) ctx.report.info(`  pid ${p.pid} ${p.comm}: PSS ${(p.pssKb / 1024).toFixed(0)} MiB`);
  ctx.report.check(
    `tracking server pod memory: PSS at most ${MAX_IDLE_PSS_FRACTION * 100} % of its limit`,
    pssBytes <= MAX_IDLE_PSS_FRACTION * limitBytes,
    `PSS ${mib(pssBytes)} over ${procs.length} processes vs limit ${limit} (${mib(limitBytes)}): ${((100 * pssBytes) / limitBytes).toFixed(0)} % of the limit`,
  );
}

/** One GET; resolves with its latency in ms (the whole response read). */
function timeOne(url: string, headers: Record<string, string>, agent: http.Agent | false): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const u = new URL(url);
    const started = process.hrtime.bigint();
    const req = http.request({ host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers, agent }, (res) => {
      res.resume();
      res.on("end", () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${url}: ${res.statusCode}`));
        else resolve(Number(process.hrtime.bigint() - started) / 1e6);
      });
    });
    req.on("error", reject);
    req.end();
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Medians (ms) of `n` rounds of the given requests, interleaved (one of each per round, so that a
 * burst of load on the shared machine hits every series alike), after `warm` unmeasured rounds.
 */
async function interleaved(series: Record<string, () => Promise<number>>, n: number, warm = 3): Promise<Record<string, number>> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(series).map((k) => [k, []]));
  for (let i = 0; i < warm + n; i++) {
    for (const [k, one] of Object.entries(series)) {
      const t = await one();
      if (i >= warm) times[k].push(t);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, median(xs)]));
}

/**
 * Kept-alive vs fresh connections. In the cluster oauth2-proxy keeps its connections to
 * MLflow alive (Go's pool, through the Service's L4 forwarding); without TCP_NODELAY on MLflow's side
 * each response on such a connection waits ~40 ms for a delayed ACK. Fails when a kept-alive request is
 * more than {@link KEEPALIVE_MARGIN_MS} slower than a fresh connection, straight to MLflow or on the
 * proxy's leg to MLflow.
 */
export async function keepAliveLatency(ctx: Ctx): Promise<void> {
  const albUrl = need(ctx.alb, "the load balancer stand-in").url;
  const tracking = need(ctx.tracking, "the tracking server");
  const token = need(ctx.token, "a token");
  // /health: a tiny response, so the figure is the transport's, not the database's (same headers-then-body writes).
  const direct = `http://${LOOPBACK}:${tracking.port}/health`;
  const n = 30;
  const clientKept = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const directKept = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const m = await interleaved(
      {
        // Through the load balancer stand-in and the proxy: MLflow's /health (the proxy's pool to MLflow is
        // kept alive), and the proxy's own /ping (no upstream): the difference is the leg to MLflow.
        viaProxy: () => timeOne(`${albUrl}/health`, { Authorization: `Bearer ${token}` }, clientKept),
        proxyOnly: () => timeOne(`${albUrl}/ping`, {}, clientKept),
        // Straight to MLflow: a new TCP connection per request, and one kept-alive connection.
        fresh: () => timeOne(direct, {}, false),
        kept: () => timeOne(direct, {}, directKept),
      },
      n,
    );
    const upstreamLeg = m.viaProxy - m.proxyOnly;
    const f = (x: number) => `${x.toFixed(1)} ms`;
    ctx.report.info(
      `  median of ${n} interleaved rounds: MLflow direct fresh ${f(m.fresh)}, kept-alive ${f(m.kept)}; through the proxy ${f(m.viaProxy)}, the proxy alone (/ping) ${f(m.proxyOnly)}, so the kept-alive leg to MLflow ${f(upstreamLeg)}`,
    );
    ctx.report.check(
      `MLflow answers a kept-alive connection within ${KEEPALIVE_MARGIN_MS} ms of a fresh one`,
      m.kept <= m.fresh + KEEPALIVE_MARGIN_MS,
      `kept-alive ${f(m.kept)} vs fresh ${f(m.fresh)} (median of ${n})`,
    );
    ctx.report.check(
      `through the proxy, its kept-alive leg to MLflow costs within ${KEEPALIVE_MARGIN_MS} ms of a fresh connection`,
      upstreamLeg <= m.fresh + KEEPALIVE_MARGIN_MS,
      `proxy + MLflow ${f(m.viaProxy)} - proxy alone ${f(m.proxyOnly)} = ${f(upstreamLeg)} vs fresh ${f(m.fresh)} (median of ${n})`,
    );
  } finally {
    clientKept.destroy();
    directKept.destroy();
  }
}
