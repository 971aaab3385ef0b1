/**
 * Loopback networking for the harness: free ports, a small HTTP client that never follows redirects
 * (so a redirect to the issuer is visible) and records every port it talks to, and readiness waits
 * that fail at once, with the log, when the awaited process dies.
 */
import * as http from "http";
import * as net from "net";
import { tail, type Managed } from "./processes";

export const LOOPBACK = "127.0.0.1";

/** A TCP port free on the loopback interface right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * Who sends a request: a user's or pipeline's client, the kubelet's probes, or Prometheus' scrapes.
 * Only clients must go through the proxy; probes and scrapes reach pods directly in the cluster too.
 */
export type Caller = "client" | "probe" | "scrape";

/** Every port the harness's clients (caller "client") have sent a request to, with a count. */
export const portsContacted = new Map<number, number>();

/** One HTTP request to a loopback URL; redirects are returned, not followed. */
export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number; caller?: Caller } = {},
): Promise<HttpResponse> {
  const u = new URL(url);
  if (u.hostname !== LOOPBACK && u.hostname !== "localhost") {
    return Promise.reject(new Error(`refusing a non-loopback request to ${url}`));
  }
  const port = Number(u.port || 80);
  if ((options.caller ?? "client") === "client") portsContacted.set(port, (portsContacted.get(port) ?? 0) + 1);
  // A fixed length, as the MLflow client (requests) sends: MLflow's server does not read chunked bodies.
  const headers = { ...options.headers };
  if (options.body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port, path: `${u.pathname}${u.search}`, method: options.method ?? "GET", headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error(`timeout: ${options.method ?? "GET"} ${url}`)));
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** JSON request helper: sends `body` as JSON, parses the answer, throws on a non-2xx status. */
export async function json<T = any>(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<T> {
  const res = await request(url, {
    method: options.method ?? (options.body === undefined ? "GET" : "POST"),
    headers: { "Content-Type": "application/json", ...options.headers },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`${options.method ?? "POST"} ${new URL(url).pathname} answered ${res.status}: ${res.body.slice(0, 300)}`);
  }
  return (res.body ? JSON.parse(res.body) : {}) as T;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export { sleep };

/**
 * Polls `probe` until it returns true. Fails with the process's log tail as soon as `proc` has exited,
 * or after `timeoutMs`.
 */
export async function waitFor(what: string, probe: () => Promise<boolean>, proc: Managed | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (proc?.exit) {
      throw new Error(
        `${what}: ${proc.name} exited (code ${proc.exit.code}, signal ${proc.exit.signal}) before it was ready; log ${proc.logFile}:\n${tail(proc.logFile)}`,
      );
    }
    try {
      if (await probe()) return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(250);
  }
  throw new Error(
    `${what}: not ready after ${timeoutMs / 1000}s${last ? ` (last error: ${last})` : ""}${proc ? `; log ${proc.logFile}:\n${tail(proc.logFile)}` : ""}`,
  );
}

/** Waits until an HTTP GET on `url` answers `status` (any status when omitted). */
export function waitForHttp(url: string, proc: Managed | undefined, timeoutMs: number, status?: number): Promise<void> {
  return waitFor(
    `${proc?.name ?? url} at ${url}`,
    async () => {
      const res = await request(url, { timeoutMs: 2000, caller: "probe" });
      return status === undefined || res.status === status;
    },
    proc,
    timeoutMs,
  );
}
