/**
 * `npm run bench`: wall time and peak memory of synthesizing every environment's stack, the way this
 * project does it (tsc-compiled JavaScript, deep provider imports) against the same app run the slow
 * default way (ts-node with type-checking, as `cdktf init` sets up), in the same run on the same
 * machine. Prints the medians and their ratio. Figures vary with the machine and its load: compare
 * the ratio, not the absolute numbers.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const probe = path.join(ROOT, "bench", "rss-probe.js");

interface Sample {
  wallMs: number;
  rssMb: number;
}

function runOnce(args: string[], env: NodeJS.ProcessEnv = {}, file: string = process.execPath): Sample {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-bench-"));
  const rssFile = path.join(outdir, "rss");
  const start = process.hrtime.bigint();
  // The probe is preloaded into every node process (npm's own too), each of which records its peak RSS.
  const r = spawnSync(file, file === process.execPath ? ["-r", probe, ...args] : args, {
    cwd: ROOT,
    env: {
      ...process.env,
      ...env,
      CDKTF_OUTDIR: outdir,
      BENCH_RSS_FILE: rssFile,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} -r ${probe}`.trim(),
    },
    encoding: "utf8",
  });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed (${r.status}):\n${r.stderr}`);
  const stacks = fs.readdirSync(path.join(outdir, "stacks"));
  if (stacks.length === 0) throw new Error(`${args.join(" ")} synthesized no stack`);
  const rssMb = Number(fs.readFileSync(rssFile, "utf8")) / 1024;
  fs.rmSync(outdir, { recursive: true, force: true });
  return { wallMs, rssMb };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function measure(label: string, args: string[], env?: NodeJS.ProcessEnv, file?: string) {
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) samples.push(runOnce(args, env, file));
  const wall = median(samples.map((s) => s.wallMs));
  const rss = median(samples.map((s) => s.rssMb));
  console.log(`${label.padEnd(52)} ${(wall / 1000).toFixed(2).padStart(7)} s ${rss.toFixed(0).padStart(7)} MB`);
  return { wall, rss };
}

console.log(`synth of every environment's stack, median of ${RUNS} runs (${os.cpus().length} cores, node ${process.version})`);
console.log(`${"how".padEnd(52)} ${"wall".padStart(9)} ${"peak RSS".padStart(10)}`);
// What users type, warm (nothing changed since the last synth): npm, the incremental transpile, the app.
const npmCli = process.platform === "win32" ? "npm.cmd" : "npm";
const typed = measure("npm run synth (warm: what users type)", ["run", "--silent", "synth"], {}, npmCli);
const fast = measure("compiled JS, deep imports (node dist/main.js)", [path.join("dist", "main.js")]);
const slow = measure(
  "ts-node with type-checking (cdktf init default)",
  [require.resolve("ts-node/dist/bin", { paths: [ROOT] }), "main.ts"],
  {
    TS_NODE_TRANSPILE_ONLY: "false",
  },
);
console.log(`ratio slow/fast: wall ${(slow.wall / fast.wall).toFixed(1)}x, peak RSS ${(slow.rss / fast.rss).toFixed(1)}x`);
console.log(`npm run synth over node dist/main.js: wall ${(typed.wall / fast.wall).toFixed(2)}x (npm's start-up and the up-to-date check)`);
