/**
 * Runs one step file of the end-to-end suite alone (`npm run build && node dist/test/e2e/<step>.js`): its own run
 * directory, report and processes, every process stopped at the end, the logs kept when something failed (or with
 * E2E_KEEP=1), and the exit code. `npm run test:e2e` (run.ts) runs the same step functions with its shared context.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Ctx } from "../context";
import { Processes } from "./processes";
import { Report, describe } from "./report";

export function runStandaloneStep(title: string, dirPrefix: string, step: (ctx: Ctx) => Promise<void>): void {
  void (async () => {
    const report = new Report();
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), dirPrefix));
    const procs = new Processes(path.join(runDir, "logs"));
    const ctx: Ctx = { report, procs, runDir, repoRoot: path.resolve(__dirname, "..", "..", "..", ".."), forwarders: [], refusals: {} };
    report.step(title);
    try {
      await step(ctx);
    } catch (err) {
      report.fail(title, describe(err));
    } finally {
      await procs.stopAll();
    }
    if (report.failed === 0 && process.env.E2E_KEEP !== "1") fs.rmSync(runDir, { recursive: true, force: true });
    else console.log(`logs in ${path.join(runDir, "logs")}`);
    console.log(`\n${report.summary()}`);
    process.exitCode = report.failed > 0 ? 1 : 0;
  })();
}
