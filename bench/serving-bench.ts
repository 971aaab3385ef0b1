/**
 * `npm run bench:serving`: the platform's model server (`mlflow-platform serve`) against
 * `mlflow models serve`, same model, same machine, same run, one worker process each, logging and
 * metrics on (our JSON access log and /metrics; uvicorn's access log for MLflow, which has no metrics).
 *
 * Load: C keep-alive connections sending the workflow's request back to back for D seconds per round,
 * rounds interleaved (A B A B ...) so that a noisy neighbour hurts both alike. Reports requests/s, p50
 * and p99 per server. Environment: BENCH_SECONDS (default 8), BENCH_CONNECTIONS (8), BENCH_ROUNDS (2).
 *
 * Our server runs from this checkout's runtime/src (not whatever the shared virtualenv last installed),
 * as the stack starts it behind a gateway: identity rule on (the caller is an address in an allowed
 * domain), admin port for /metrics. BENCH_BASELINE=<git revision> adds that revision's server
 * (runtime/src of the revision, with the flags it knows) to the same run, interleaved, and prints the
 * ratios: a change's cost measured on the same machine in the same minutes.
 */
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { execSync } from "child_process";
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

const REPO = path.resolve(__dirname, "..", "..");
/** `mlflow-platform` from a runtime source tree (PYTHONPATH), with the virtualenv's interpreter. */
const fromSource = (src: string) => ({
  argv: [path.join(BIN, "python"), "-c", "import sys; from mlflow_platform.cli import main; sys.exit(main())"],
  env: { PYTHONPATH: src },
});

async function main(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "serving-bench-"));
  const model = saveModel(dir);

  const env = { PATH: `${BIN}:/usr/bin:/bin`, HOME: dir, LANG: "C.UTF-8" };
  const { start, stopAll } = processes(env, dir);
  try {
    const mPort = await freePort();
    const ourPort = await freePort();
    const mlflow = start("mlflow-models-serve", [
      path.join(BIN, "mlflow"),
      "models",
      "serve",
      "-m",
      model,
      "--env-manager",
      "local",
      "-h",
      "127.0.0.1",
      "-p",
      String(mPort),
      "-w",
      "1",
    ]);
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
    ];
    const here = fromSource(path.join(REPO, "runtime", "src"));
    const adminPort = await freePort();
    const ours = start(
      "mlflow-platform-serve",
      [
        ...here.argv,
        ...common,
        "--port",
        String(ourPort),
        "--admin-port",
        String(adminPort),
        "--caller-header",
        "X-Caller-Id",
        "--allowed-email-domains",
        "example.com",
      ],
      here.env,
    );
    const baselineRev = process.env.BENCH_BASELINE;
    let basePort = 0;
    let baseline: ReturnType<typeof start> | undefined;
    if (baselineRev) {
      const tree = path.join(dir, "baseline");
      fs.mkdirSync(tree);
      execSync(`git -C ${JSON.stringify(REPO)} archive ${JSON.stringify(baselineRev)} runtime/src | tar -x -C ${JSON.stringify(tree)}`);
      const then = fromSource(path.join(tree, "runtime", "src"));
      basePort = await freePort();
      baseline = start("mlflow-platform-serve-baseline", [...then.argv, ...common, "--port", String(basePort)], then.env);
    }
    await waitReady(`http://127.0.0.1:${mPort}/ping`, mlflow.p, mlflow.log);
    await waitReady(`http://127.0.0.1:${ourPort}/ping`, ours.p, ours.log);
    if (baseline) await waitReady(`http://127.0.0.1:${basePort}/ping`, baseline.p, baseline.log);

    const short = baselineRev
      ? execSync(`git -C ${JSON.stringify(REPO)} rev-parse --short ${JSON.stringify(baselineRev)}`)
          .toString()
          .trim()
      : "";
    // Each baseline case right after the same case of this checkout: neighbours in time share the noise.
    const cases = [
      {
        name: 'mlflow models serve  POST /invocations {"inputs": [row]}',
        port: mPort,
        route: "/invocations",
        body: JSON.stringify({ inputs: [ROW] }),
      },
      { name: 'mlflow-platform serve POST /predict {"data": row}', port: ourPort, route: "/predict", body: JSON.stringify({ data: ROW }) },
      ...(baseline
        ? [
            {
              name: `baseline ${short} POST /predict {"data": row}`,
              port: basePort,
              route: "/predict",
              body: JSON.stringify({ data: ROW }),
            },
          ]
        : []),
      {
        name: 'mlflow-platform serve POST /invocations {"inputs": [row]}',
        port: ourPort,
        route: "/invocations",
        body: JSON.stringify({ inputs: [ROW] }),
      },
      ...(baseline
        ? [
            {
              name: `baseline ${short} POST /invocations {"inputs": [row]}`,
              port: basePort,
              route: "/invocations",
              body: JSON.stringify({ inputs: [ROW] }),
            },
          ]
        : []),
    ];
    for (const c of cases) await load(c.port, c.route, c.body, 2); // warm-up
    const results = new Map<string, Result[]>(cases.map((c) => [c.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const c of cases) results.get(c.name)!.push(await load(c.port, c.route, c.body, SECONDS));
    }
    const cpu = os.cpus().length;
    console.log(
      `serving benchmark: ${CONNECTIONS} keep-alive connections, ${ROUNDS} x ${SECONDS} s per case (interleaved), 1 worker each, ${cpu} CPUs, load generator on the same machine`,
    );
    console.log("case                                                     req/s     p50 ms   p99 ms   requests  errors");
    const merged = cases.map((c) => ({ c, r: merge(results.get(c.name)!) }));
    for (const { c, r } of merged) {
      console.log(
        `${c.name.padEnd(56)} ${r.rps.toFixed(0).padStart(6)}   ${r.p50.toFixed(2).padStart(6)}   ${r.p99.toFixed(2).padStart(6)}   ${String(r.requests).padStart(8)}  ${r.errors}`,
      );
    }
    const base = merged[0].r;
    for (const { c, r } of merged.filter(({ c }) => c.port === ourPort)) {
      console.log(
        `${c.name}: ${(r.rps / base.rps).toFixed(2)}x the throughput of mlflow models serve, p99 ${r.p99.toFixed(2)} ms vs ${base.p99.toFixed(2)} ms`,
      );
    }
    if (baseline) {
      for (const [now, then] of [
        [merged[1], merged[2]],
        [merged[3], merged[4]],
      ]) {
        console.log(
          `this checkout vs ${short}, ${now.c.route}: throughput ${(now.r.rps / then.r.rps).toFixed(3)}x (${now.r.rps.toFixed(0)} vs ${then.r.rps.toFixed(0)} req/s), p99 ${(now.r.p99 / then.r.p99).toFixed(3)}x (${now.r.p99.toFixed(2)} vs ${then.r.p99.toFixed(2)} ms), p50 ${now.r.p50.toFixed(2)} vs ${then.r.p50.toFixed(2)} ms`,
        );
      }
    }
    const logLines = fs
      .readFileSync(ours.log, "utf8")
      .split("\n")
      .filter((l) => l.includes('"request_id"')).length;
    console.log(
      `logging on: mlflow-platform serve wrote ${logLines} JSON access log lines; mlflow models serve ${
        fs
          .readFileSync(mlflow.log, "utf8")
          .split("\n")
          .filter((l) => /POST \/invocations/.test(l)).length
      } uvicorn access lines`,
    );
    const metrics = await new Promise<string>((resolve) =>
      http.get(`http://127.0.0.1:${adminPort}/metrics`, (res) => {
        let s = "";
        res.on("data", (d) => (s += d));
        res.on("end", () => resolve(s));
      }),
    );
    console.log(
      `metrics on: ${metrics
        .split("\n")
        .filter((l) => l.startsWith("model_server_requests_total{"))
        .join("; ")}`,
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
