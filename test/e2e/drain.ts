/**
 * Drain before stop: a proxy pod keeps serving while the load balancer deregisters it.
 *
 * In the cluster, deleting a proxy pod (rollout, scale-in, node drain) starts two things at once: the
 * AWS Load Balancer Controller deregisters the pod from the target group, and the kubelet runs the
 * pod's preStop hook, then sends SIGTERM. The ALB goes on sending new requests to a deregistered target
 * for a while (aws-load-balancer-controller#3270), and oauth2-proxy stops accepting within milliseconds
 * of SIGTERM. This step plays both sides with a second proxy replica started from the same synthesized
 * command, behind a target-group stand-in that keeps routing to a deregistered target for the whole
 * deregistration delay (the worst case), while requests flow through it:
 *
 * 1. control: SIGTERM right after deregistration, as without a preStop pause. Requests must fail here,
 *    or the stand-in does not reproduce the race and step 2 proves nothing;
 * 2. as the kubelet does with the synthesized Deployment: its preStop command is run, then SIGTERM,
 *    within the synthesized grace period. No request may fail.
 */
import * as http from "http";
import type { AddressInfo } from "net";
import { spawn } from "child_process";
import { type Ctx, need } from "./context";
import { imageEnv } from "./deploy";
import type { LocalProcess } from "./lib/deployment";
import { LOOPBACK, freePort, waitForHttp } from "./lib/net";
import type { Managed } from "./lib/processes";
import { many, one } from "./lib/workloads";

/** The synthesized stop timings of the proxy: preStop command, grace period, the ALB's deregistration delay. */
export interface ProxyStopSpec {
  readonly preStop: readonly string[];
  readonly terminationGracePeriodSeconds: number;
  readonly deregistrationDelaySeconds: number;
}

/** Reads the proxy Deployment's preStop and grace period, and the Ingress's deregistration delay, from the synthesized stack. */
export function proxyStopSpec(ctx: Ctx): ProxyStopSpec {
  const json = need(ctx.json, "the synthesized stack") as any;
  const proxy = need(ctx.workloads, "the workloads").proxy;
  const podSpec = one(one(one(proxy.raw.spec)?.template)?.spec) ?? {};
  const container = many(podSpec.container)[0] ?? {};
  const preStop = one(one(one(container.lifecycle)?.pre_stop)?.exec)?.command;
  if (!Array.isArray(preStop) || preStop.length === 0)
    throw new Error(`${proxy.address} has no preStop exec command: nothing holds SIGTERM back while the load balancer deregisters the pod`);
  const grace = Number(podSpec.termination_grace_period_seconds);
  const ingresses = Object.values(json.resource?.kubernetes_ingress_v1 ?? {}) as any[];
  const attrs = String(one(ingresses[0]?.metadata)?.annotations?.["alb.ingress.kubernetes.io/target-group-attributes"] ?? "");
  const m = /deregistration_delay\.timeout_seconds=(\d+)/.exec(attrs);
  if (!m) throw new Error(`the Ingress sets no deregistration delay (target-group-attributes: "${attrs}")`);
  return { preStop: preStop.map(String), terminationGracePeriodSeconds: grace, deregistrationDelaySeconds: Number(m[1]) };
}

/** A target group stand-in: round-robin over registered targets; a deregistered one still gets new requests for `lingerMs`. */
class TargetGroup {
  private readonly targets = new Map<number, { until?: number; served: number }>();
  private next = 0;
  server!: http.Server;
  port = 0;
  constructor(private readonly publicHost: string) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const now = Date.now();
      const live = [...this.targets.entries()].filter(([, t]) => t.until === undefined || now < t.until);
      if (live.length === 0) {
        res.writeHead(503).end("no target");
        return;
      }
      const [port, t] = live[this.next++ % live.length];
      t.served++;
      const headers = {
        ...req.headers,
        host: this.publicHost,
        "x-forwarded-proto": "https",
        "x-forwarded-port": "443",
        "x-forwarded-for": req.socket.remoteAddress,
      };
      const up = http.request({ host: LOOPBACK, port, method: req.method, path: req.url, headers, agent: false }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on("error", (err) => {
        if (!res.headersSent) res.writeHead(502, { "Content-Type": "text/plain" });
        res.end(`target ${port}: ${err.message}`);
      });
      req.pipe(up);
    });
    await new Promise<void>((resolve) => this.server.listen(0, LOOPBACK, resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  register(port: number): void {
    this.targets.set(port, { served: 0 });
  }
  /** Deregisters `port`; it keeps receiving new requests for `lingerMs` (the ALB's propagation). */
  deregister(port: number, lingerMs: number): void {
    this.targets.get(port)!.until = Date.now() + lingerMs;
  }
  served(port: number): number {
    return this.targets.get(port)?.served ?? 0;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** Requests flowing through `url` from `parallel` clients until stopped: counts answers and failures. */
function load(url: string, token: string, parallel: number): { stop(): Promise<{ ok: number; failed: number; failures: string[] }> } {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const one_ = () =>
    new Promise<void>((resolve) => {
      const req = http.request(url, { headers: { Authorization: `Bearer ${token}` }, agent: false }, (res) => {
        let body = "";
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => {
          if (res.statusCode === 200) ok++;
          else failures.push(`${res.statusCode} ${body.slice(0, 80)}`);
          resolve();
        });
      });
      req.on("error", (e) => {
        failures.push(e.message);
        resolve();
      });
      req.end();
    });
  const loops = Array.from({ length: parallel }, async () => {
    while (running) {
      await one_();
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { ok, failed: failures.length, failures };
    },
  };
}

/** A second proxy replica: the same rendered command, on its own ports. */
function replicaOf(lp: LocalProcess, ports: Record<string, number>): { argv: string[]; env: Record<string, string> } {
  const swap = (v: string) =>
    Object.entries(lp.ports).reduce(
      (s, [name, p]) => s.replace(new RegExp(`${LOOPBACK.replace(/\./g, "\\.")}:${p}(?!\\d)`, "g"), `${LOOPBACK}:${ports[name]}`),
      v,
    );
  return { argv: lp.argv.map(swap), env: Object.fromEntries(Object.entries(lp.env).map(([k, v]) => [k, swap(v)])) };
}

function exited(m: Managed, timeoutMs: number): Promise<boolean> {
  if (m.exit) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    m.child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Runs a preStop exec command as the kubelet would (in the container: here, on this machine). */
function runPreStop(argv: readonly string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: "ignore" });
    child.on("exit", (code) => resolve(code));
    child.on("error", () => resolve(-1));
  });
}

export async function proxyDrain(ctx: Ctx): Promise<void> {
  const { report } = ctx;
  const proxy = need(ctx.proxy, "the proxy");
  const token = need(ctx.token, "a token");
  const config = need(ctx.config, "the configuration");
  const spec = proxyStopSpec(ctx);
  const drainSeconds = Number(spec.preStop[spec.preStop.length - 1]);
  report.check(
    "the proxy keeps serving longer than the load balancer's deregistration delay, within its grace period",
    spec.preStop[0] === "sleep" && drainSeconds > spec.deregistrationDelaySeconds && spec.terminationGracePeriodSeconds > drainSeconds,
    `preStop ${JSON.stringify(spec.preStop)}, deregistration delay ${spec.deregistrationDelaySeconds} s, terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds}`,
  );

  const group = new TargetGroup(config.hostname);
  await group.start();
  group.register(proxy.port);
  const lingerMs = spec.deregistrationDelaySeconds * 1000;
  const url = `http://${LOOPBACK}:${group.port}/health`;
  const startReplica = async (n: number): Promise<{ m: Managed; port: number }> => {
    const ports: Record<string, number> = {};
    for (const name of Object.keys(proxy.local.ports)) ports[name] = await freePort();
    const r = replicaOf(proxy.local, ports);
    const httpName = Object.keys(proxy.local.ports).find((k) => proxy.local.ports[k] === proxy.port)!;
    const m = ctx.procs.start(`oauth2-proxy-replica-${n}`, r.argv, { env: { ...imageEnv(ctx), ...r.env } });
    await waitForHttp(`http://${LOOPBACK}:${ports[httpName]}/ready`, m, 30_000, 200);
    group.register(ports[httpName]);
    return { m, port: ports[httpName] };
  };

  try {
    // 1. Control: SIGTERM at deregistration, no pause.
    const a = await startReplica(1);
    let flow = load(url, token, 4);
    await new Promise((r) => setTimeout(r, 1000));
    const servedBefore = group.served(a.port);
    group.deregister(a.port, lingerMs);
    process.kill(a.m.pid, "SIGTERM");
    const controlExit = await exited(a.m, 10_000);
    await new Promise((r) => setTimeout(r, lingerMs + 500));
    const control = await flow.stop();
    report.check(
      "control: without the drain pause the load balancer's requests to the stopping pod fail (the stand-in reproduces the 502s)",
      control.failed > 0 && controlExit,
      `${control.failed} of ${control.ok + control.failed} requests failed (e.g. ${control.failures[0] ?? "none"}); the replica had served ${servedBefore} before deregistration and exited ${controlExit ? "at once" : "not within 10 s"}`,
    );

    // 2. As the kubelet: preStop (the synthesized command), then SIGTERM, within the grace period.
    const b = await startReplica(2);
    flow = load(url, token, 4);
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    const before = group.served(b.port);
    group.deregister(b.port, lingerMs);
    const preStopCode = await runPreStop(spec.preStop);
    const afterDeregistration = group.served(b.port) - before;
    process.kill(b.m.pid, "SIGTERM");
    const stopped = await exited(b.m, spec.terminationGracePeriodSeconds * 1000 - (Date.now() - t0));
    const stopSeconds = (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    const drained = await flow.stop();
    report.check(
      "with the synthesized preStop, no request fails while the pod is deregistered and stopped",
      drained.failed === 0 && preStopCode === 0 && stopped && afterDeregistration > 0 && drained.ok > 0,
      `${drained.ok} requests answered 200, ${drained.failed} failed${drained.failed ? ` (e.g. ${drained.failures[0]})` : ""}; the stopping replica still got ${afterDeregistration} after deregistration; preStop exit ${preStopCode}, SIGTERM after ${drainSeconds} s, exited after ${stopSeconds.toFixed(1)} s of ${spec.terminationGracePeriodSeconds} s grace`,
    );
  } finally {
    await group.close();
  }
}
