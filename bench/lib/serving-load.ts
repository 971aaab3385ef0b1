/**
 * What the serving benchmarks share (serving-bench.ts, inference-log-bench.ts): the tools virtualenv, the
 * model they serve, the processes they start, and the load generator with its figures. Environment:
 * BENCH_SECONDS (default 8), BENCH_CONNECTIONS (8), BENCH_ROUNDS (2).
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";

export const TOOLS = process.env.MLFLOW_PLATFORM_TOOLS ?? path.join(os.homedir(), ".cache", "mlflow-platform-e2e");
export const BIN = path.join(TOOLS, "venv", "bin");
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
export const ROW = [5.1, 3.5, 1.4, 0.2];

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function get(url: string): Promise<number> {
  return new Promise((resolve) => {
    http
      .get(url, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      })
      .on("error", () => resolve(0));
  });
}

export async function waitReady(url: string, proc: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${url}: process exited ${proc.exitCode}\n${fs.readFileSync(log, "utf8").slice(-2000)}`);
    if ((await get(url)) === 200) return;
    await sleep(250);
  }
  throw new Error(`${url} not ready after 300 s`);
}

export interface Result {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
}

/** The caller every benchmark request names: an address, as a gateway sets it from a verified token. */
export const BENCH_CALLER = "bench@example.com";

/** C workers on keep-alive connections, each sending the next request as soon as the last is answered. */
export async function load(port: number, route: string, body: string, seconds: number): Promise<Result> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t = process.hrtime.bigint();
      const req = http.request(
        {
          host: "127.0.0.1",
          port,
          path: route,
          method: "POST",
          agent,
          headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), "X-Caller-Id": BENCH_CALLER },
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode === 200) latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
            else errors++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < end) await one();
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { rps: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), requests: latencies.length, errors };
}

export function merge(rs: Result[]): Result {
  const requests = rs.reduce((n, r) => n + r.requests, 0);
  return {
    rps: rs.reduce((n, r) => n + r.rps, 0) / rs.length,
    // Percentiles of the rounds, averaged (each round holds thousands of samples).
    p50: rs.reduce((n, r) => n + r.p50, 0) / rs.length,
    p99: rs.reduce((n, r) => n + r.p99, 0) / rs.length,
    requests,
    errors: rs.reduce((n, r) => n + r.errors, 0),
  };
}

/** Trains and saves the served model into `<dir>/model` (the same kind as examples/train.py: scaler + MLP on iris, skops); returns its path. */
export function saveModel(dir: string): string {
  const model = path.join(dir, "model");
  // The same kind of model as examples/train.py: scaler + MLP pipeline on iris, saved with skops.
  const save = spawnSync(
    path.join(BIN, "python"),
    [
      "-c",
      `
import mlflow, sys
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
x, y = load_iris(return_X_y=True)
m = Pipeline([("scaler", StandardScaler()), ("classifier", MLPClassifier(hidden_layer_sizes=(16,), max_iter=500, random_state=0))]).fit(x, y)
mlflow.sklearn.save_model(m, sys.argv[1], signature=infer_signature(x[:3], m.predict(x[:3])),
    skops_trusted_types=["sklearn.neural_network._stochastic_optimizers.AdamOptimizer"])
`,
      model,
    ],
    { encoding: "utf8" },
  );
  if (save.status !== 0) throw new Error(`saving the model failed:\n${save.stderr}`);
  return model;
}

/** Starts processes in `dir` with `env` (each in its own group, output to `<dir>/<name>.log`); stops them all. */
export function processes(env: Record<string, string>, dir: string) {
  const procs: ChildProcess[] = [];
  const start = (name: string, argv: string[], extraEnv: Record<string, string> = {}) => {
    const log = path.join(dir, `${name}.log`);
    const out = fs.openSync(log, "w");
    const p = spawn(argv[0], argv.slice(1), { env: { ...env, ...extraEnv }, cwd: dir, detached: true, stdio: ["ignore", out, out] });
    procs.push(p);
    return { p, log };
  };
  const stopAll = () => {
    for (const p of procs) {
      try {
        process.kill(-p.pid!, "SIGTERM");
      } catch {
        /* gone */
      }
    }
  };
  process.on("SIGINT", () => {
    stopAll();
    process.exit(130);
  });
  return { start, stopAll };
}
