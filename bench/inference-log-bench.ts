/**
 * `npm run bench:inference-log`: the platform's model server with input/output logging at 100 % sampling
 * (to an S3 stand-in, moto_server, with the dev environment's obfuscation rules) against the same server
 * with logging off: same model, same machine, rounds interleaved (A B A B ...). Goal: at least
 * 0.9x the throughput. Environment: BENCH_SECONDS (default 8), BENCH_CONNECTIONS (8), BENCH_ROUNDS (2).
 */
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import {
  BIN,
  CONNECTIONS,
  ROUNDS,
  ROW,
  SECONDS,
  freePort,
  load,
  merge,
  processes,
  saveModel,
  sleep,
  waitReady,
  type Result,
} from "./lib/serving-load";

const CONTEXT = {
  customer_id: "c-1",
  customer_email: "jane@example.com",
  account_number: "DE89370400440532013000",
  age: 37,
  comment: "call me at jane@example.com",
};

async function main(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inference-log-bench-"));
  const model = saveModel(dir);

  const s3Port = await freePort();
  const env = {
    PATH: `${BIN}:/usr/bin:/bin`,
    HOME: dir,
    LANG: "C.UTF-8",
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${s3Port}`,
    AWS_ACCESS_KEY_ID: "bench",
    AWS_SECRET_ACCESS_KEY: "bench",
    AWS_DEFAULT_REGION: "us-east-1",
    MODEL_SERVER_INFERENCE_LOG_KEY: "bench-key-0123456789abcdef0123456789",
  };
  const { start, stopAll } = processes(env, dir);
  try {
    const moto = start("moto", [path.join(BIN, "moto_server"), "-H", "127.0.0.1", "-p", String(s3Port)]);
    await waitReady(`http://127.0.0.1:${s3Port}/moto-api/`, moto.p, moto.log);
    await new Promise<void>((resolve, reject) =>
      http
        .request({ host: "127.0.0.1", port: s3Port, path: "/bench-bucket", method: "PUT" }, (res) => {
          res.resume();
          res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`bucket: ${res.statusCode}`))));
        })
        .end(),
    );
    const common = [
      "serve",
      "--model-dir",
      model,
      "--model-name",
      "iris-classifier",
      "--model-version",
      "1",
      "--host",
      "127.0.0.1",
      "--max-concurrency",
      "64",
      "--caller-rate",
      "1000000",
      "--caller-burst",
      "1000000",
      "--class-names",
      "setosa,versicolor,virginica",
      "--feature-names",
      "sepal_length,sepal_width,petal_length,petal_width",
    ];
    const offPort = await freePort();
    const onPort = await freePort();
    const off = start("logging-off", [path.join(BIN, "mlflow-platform"), ...common, "--port", String(offPort)]);
    const on = start("logging-on", [
      path.join(BIN, "mlflow-platform"),
      ...common,
      "--port",
      String(onPort),
      "--inference-log-bucket",
      "bench-bucket",
      "--inference-log-sampling",
      "1",
      "--inference-log-flush-seconds",
      "2",
      "--inference-log-context-fields",
      "customer_id,customer_email,account_number,age,comment",
      "--inference-log-rules",
      JSON.stringify([
        { field: "customer_id", kind: "hash" },
        { field: "customer_email", kind: "drop" },
        { field: "account_number", kind: "mask", keepLast: 4 },
        { field: "age", kind: "coarsen", step: 10 },
        { field: "comment", kind: "redact" },
      ]),
    ]);
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
    console.log(
      `inference log benchmark: ${CONNECTIONS} keep-alive connections, ${ROUNDS} x ${SECONDS} s per case (interleaved), 1 worker each, ${os.cpus().length} CPUs, load generator and S3 stand-in on the same machine`,
    );
    console.log("case                                  req/s     p50 ms   p99 ms   requests  errors");
    const merged = cases.map((c) => ({ c, r: merge(results.get(c.name)!) }));
    for (const { c, r } of merged) {
      console.log(
        `${c.name.padEnd(36)} ${r.rps.toFixed(0).padStart(6)}   ${r.p50.toFixed(2).padStart(6)}   ${r.p99.toFixed(2).padStart(6)}   ${String(r.requests).padStart(8)}  ${r.errors}`,
      );
    }
    const ratio = merged[1].r.rps / merged[0].r.rps;
    const metrics = await new Promise<string>((resolve) =>
      http.get(`http://127.0.0.1:${onPort}/metrics`, (res) => {
        let s = "";
        res.on("data", (d) => (s += d));
        res.on("end", () => resolve(s));
      }),
    );
    console.log(
      `logging on: ${metrics
        .split("\n")
        .filter((l) => l.startsWith("model_server_inference_log_requests_total{") && !l.endsWith(" 0.0"))
        .join("; ")}`,
    );
    console.log(
      `throughput with logging at 100 %: ${ratio.toFixed(2)}x of logging off (goal >= 0.9x: ${ratio >= 0.9 ? "met" : "NOT met"})`,
    );
    return merged.some(({ r }) => r.errors > 0) ? 1 : 0;
  } finally {
    stopAll();
    await sleep(500);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
