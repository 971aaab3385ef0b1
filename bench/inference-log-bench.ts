/**
 * `npm run bench:inference-log`: the platform's model server with input/output logging at 100 % sampling
 * (to an S3 stand-in, moto_server, with the dev environment's obfuscation rules) against the same server
 * with logging off: same model, same machine, rounds interleaved (A B A B ...). Goal (issue 14): at least
 * 0.9x the throughput. Environment: BENCH_SECONDS (default 8), BENCH_CONNECTIONS (8), BENCH_ROUNDS (2).
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";

const TOOLS = process.env.MLFLOW_PLATFORM_TOOLS ?? path.join(os.homedir(), ".cache", "mlflow-platform-e2e");
const BIN = path.join(TOOLS, "venv", "bin");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const ROW = [5.1, 3.5, 1.4, 0.2];
const CONTEXT = { customer_id: "c-1", customer_email: "jane@example.com", account_number: "DE89370400440532013000", age: 37, comment: "call me at jane@example.com" };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function get(url: string): Promise<number> {
  return new Promise((resolve) => {
    http.get(url, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode ?? 0)); }).on("error", () => resolve(0));
  });
}

async function waitReady(url: string, proc: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${url}: process exited ${proc.exitCode}\n${fs.readFileSync(log, "utf8").slice(-2000)}`);
    if ((await get(url)) === 200) return;
    await sleep(250);
  }
  throw new Error(`${url} not ready after 300 s`);
}

interface Result { rps: number; p50: number; p99: number; requests: number; errors: number }

/** C workers on keep-alive connections, each sending the next request as soon as the last is answered. */
async function load(port: number, route: string, body: string, seconds: number): Promise<Result> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const one = () => new Promise<void>((resolve) => {
    const t = process.hrtime.bigint();
    const req = http.request({ host: "127.0.0.1", port, path: route, method: "POST", agent,
      headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), "X-Caller-Id": "bench" } }, (res) => {
      res.resume();
      res.on("end", () => {
        if (res.statusCode === 200) latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        else errors++;
        resolve();
      });
    });
    req.on("error", () => { errors++; resolve(); });
    req.end(body);
  });
  const started = Date.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => { while (Date.now() < end) await one(); }));
  const elapsed = (Date.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { rps: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), requests: latencies.length, errors };
}

function merge(rs: Result[]): Result {
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

async function main(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inference-log-bench-"));
  const model = path.join(dir, "model");
  const save = spawnSync(path.join(BIN, "python"), ["-c", `
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
`, model], { encoding: "utf8" });
  if (save.status !== 0) throw new Error(`saving the model failed:\n${save.stderr}`);

  const s3Port = await freePort();
  const env = {
    PATH: `${BIN}:/usr/bin:/bin`, HOME: dir, LANG: "C.UTF-8", AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${s3Port}`,
    AWS_ACCESS_KEY_ID: "bench", AWS_SECRET_ACCESS_KEY: "bench", AWS_DEFAULT_REGION: "us-east-1",
    MODEL_SERVER_INFERENCE_LOG_KEY: "bench-key-0123456789abcdef0123456789",
  };
  const procs: ChildProcess[] = [];
  const start = (name: string, argv: string[]) => {
    const log = path.join(dir, `${name}.log`);
    const out = fs.openSync(log, "w");
    const p = spawn(argv[0], argv.slice(1), { env, cwd: dir, detached: true, stdio: ["ignore", out, out] });
    procs.push(p);
    return { p, log };
  };
  const stopAll = () => { for (const p of procs) { try { process.kill(-p.pid!, "SIGTERM"); } catch { /* gone */ } } };
  process.on("SIGINT", () => { stopAll(); process.exit(130); });
  try {
    const moto = start("moto", [path.join(BIN, "moto_server"), "-H", "127.0.0.1", "-p", String(s3Port)]);
    await waitReady(`http://127.0.0.1:${s3Port}/moto-api/`, moto.p, moto.log);
    await new Promise<void>((resolve, reject) => http.request({ host: "127.0.0.1", port: s3Port, path: "/bench-bucket", method: "PUT" }, (res) => { res.resume(); res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`bucket: ${res.statusCode}`)))); }).end());
    const common = ["serve", "--model-dir", model, "--model-name", "iris-classifier", "--model-version", "1", "--host", "127.0.0.1",
      "--max-concurrency", "64", "--caller-rate", "1000000", "--caller-burst", "1000000", "--class-names", "setosa,versicolor,virginica",
      "--feature-names", "sepal_length,sepal_width,petal_length,petal_width"];
    const offPort = await freePort();
    const onPort = await freePort();
    const off = start("logging-off", [path.join(BIN, "mlflow-platform"), ...common, "--port", String(offPort)]);
    const on = start("logging-on", [path.join(BIN, "mlflow-platform"), ...common, "--port", String(onPort),
      "--inference-log-bucket", "bench-bucket", "--inference-log-sampling", "1", "--inference-log-flush-seconds", "2",
      "--inference-log-context-fields", "customer_id,customer_email,account_number,age,comment",
      "--inference-log-rules", JSON.stringify([{ field: "customer_id", kind: "hash" }, { field: "customer_email", kind: "drop" },
        { field: "account_number", kind: "mask", keepLast: 4 }, { field: "age", kind: "coarsen", step: 10 }, { field: "comment", kind: "redact" }])]);
    await waitReady(`http://127.0.0.1:${offPort}/ping`, off.p, off.log);
    await waitReady(`http://127.0.0.1:${onPort}/ping`, on.p, on.log);
    const body = JSON.stringify({ data: ROW, context: CONTEXT });
    const cases = [
      { name: "logging off", port: offPort },
      { name: "logging 100 %, rules on, to S3", port: onPort },
    ];
    for (const c of cases) await load(c.port, "/predict", body, 2); // warm-up
    const results = new Map<string, Result[]>(cases.map((c) => [c.name, []]));
    for (let r = 0; r < ROUNDS; r++) for (const c of cases) results.get(c.name)!.push(await load(c.port, "/predict", body, SECONDS));
    await sleep(3000); // the last batch is written
    console.log(`inference log benchmark: ${CONNECTIONS} keep-alive connections, ${ROUNDS} x ${SECONDS} s per case (interleaved), 1 worker each, ${os.cpus().length} CPUs, load generator and S3 stand-in on the same machine`);
    console.log("case                                  req/s     p50 ms   p99 ms   requests  errors");
    const merged = cases.map((c) => ({ c, r: merge(results.get(c.name)!) }));
    for (const { c, r } of merged) {
      console.log(`${c.name.padEnd(36)} ${r.rps.toFixed(0).padStart(6)}   ${r.p50.toFixed(2).padStart(6)}   ${r.p99.toFixed(2).padStart(6)}   ${String(r.requests).padStart(8)}  ${r.errors}`);
    }
    const ratio = merged[1].r.rps / merged[0].r.rps;
    const metrics = await new Promise<string>((resolve) => http.get(`http://127.0.0.1:${onPort}/metrics`, (res) => { let s = ""; res.on("data", (d) => (s += d)); res.on("end", () => resolve(s)); }));
    console.log(`logging on: ${metrics.split("\n").filter((l) => l.startsWith("model_server_inference_log_requests_total{") && !l.endsWith(" 0.0")).join("; ")}`);
    console.log(`throughput with logging at 100 %: ${ratio.toFixed(2)}x of logging off (goal >= 0.9x: ${ratio >= 0.9 ? "met" : "NOT met"})`);
    return merged.some(({ r }) => r.errors > 0) ? 1 : 0;
  } finally {
    stopAll();
    await sleep(500);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then((code) => { process.exitCode = code; }, (err) => { console.error(err); process.exitCode = 1; });
