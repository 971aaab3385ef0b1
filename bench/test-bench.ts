/**
 * `npm run bench:test`: wall time and peak memory of the unit tests (`npx jest`, as configured), and of
 * the same suite on one worker (jest's own default on a 2-core machine) in the same run. Memory is the
 * peak over time of the whole process tree (npm, jest, its workers and every tool the tests start),
 * sampled every 100 ms from /proc: summed PSS (each shared page counted once, split between its users:
 * what the run really needs) and summed RSS (shared pages counted in every process, so the forks of the
 * one MLflow process the suites share are counted in full each). Figures vary with the machine and its
 * load: the load average is printed with them, and the ratio between the two rows is the comparable one.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

/**
 * Every process id under `root`, root included, and every process of a process group that one of them
 * started (`groups`, kept between samples): the shared MLflow process leads its own group and stays
 * counted, with its forks, even after the worker that started it has exited and it was reparented.
 */
function tree(root: number, groups: Set<number>): number[] {
  const procs: { pid: number; ppid: number; pgrp: number }[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      // pid (comm) state ppid pgrp ...: comm may contain spaces, so split after the last ')'.
      const [, ppid, pgrp] = stat
        .slice(stat.lastIndexOf(")") + 2)
        .split(" ")
        .map(Number);
      procs.push({ pid: Number(name), ppid, pgrp });
    } catch {
      // exited while we looked
    }
  }
  const under = new Set([root]);
  for (const pid of under) for (const p of procs) if (p.ppid === pid) under.add(p.pid); // a Set iterates what is added
  for (const p of procs) if (under.has(p.pid) && p.pid === p.pgrp) groups.add(p.pgrp);
  return procs.filter((p) => under.has(p.pid) || groups.has(p.pgrp)).map((p) => p.pid);
}

/** PSS and RSS of one process in KiB (0 when it is gone). */
function memoryOf(pid: number): { pss: number; rss: number } {
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
    return { pss: kb("Pss"), rss: kb("Rss") };
  } catch {
    return { pss: 0, rss: 0 };
  }
}

interface Sample {
  wallS: number;
  pssMb: number;
  rssMb: number;
  tests: string;
}

function runOnce(args: string[]): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn("npx", ["jest", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    let pss = 0;
    let rss = 0;
    const groups = new Set<number>();
    const timer = setInterval(() => {
      const sums = tree(child.pid!, groups)
        .map(memoryOf)
        .reduce((a, b) => ({ pss: a.pss + b.pss, rss: a.rss + b.rss }), { pss: 0, rss: 0 });
      pss = Math.max(pss, sums.pss);
      rss = Math.max(rss, sums.rss);
    }, 100);
    child.on("close", (code) => {
      clearInterval(timer);
      const wallS = Number(process.hrtime.bigint() - start) / 1e9;
      if (code !== 0) return reject(new Error(`npx jest ${args.join(" ")} failed (${code}):\n${output.slice(-3000)}`));
      const tests = /^Tests:\s+(.*)$/m.exec(output)?.[1].trim() ?? "?";
      resolve({ wallS, pssMb: pss / 1024, rssMb: rss / 1024, tests });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

async function measure(label: string, args: string[], runs: number) {
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) samples.push(await runOnce(args));
  const m = {
    wall: median(samples.map((s) => s.wallS)),
    pss: median(samples.map((s) => s.pssMb)),
    rss: median(samples.map((s) => s.rssMb)),
  };
  console.log(
    `${label.padEnd(40)} ${m.wall.toFixed(1).padStart(7)} s ${m.pss.toFixed(0).padStart(8)} MB ${m.rss.toFixed(0).padStart(8)} MB   ${samples[0].tests}`,
  );
  return m;
}

async function main() {
  console.log(`npx jest, median of ${RUNS} runs (${os.cpus().length} cores, node ${process.version}, load ${load()})`);
  console.log(`${"how".padEnd(40)} ${"wall".padStart(9)} ${"peak PSS".padStart(11)} ${"peak RSS".padStart(11)}   tests`);
  const configured = await measure("as configured (jest.config.js)", [], RUNS);
  const one = await measure("one worker (--maxWorkers=1)", ["--maxWorkers=1"], 1);
  console.log(
    `ratio one worker / as configured: wall ${(one.wall / configured.wall).toFixed(2)}x, peak PSS ${(one.pss / configured.pss).toFixed(2)}x (load ${load()})`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
