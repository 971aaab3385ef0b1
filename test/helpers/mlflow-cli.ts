/**
 * Checks rendered MLflow command lines with the real MLflow CLI of the pinned version (the tools
 * virtualenv), without running them: see mlflow-cli-check.py.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { RenderedProcess } from "../../constructs/commands/render";
import { TRACKING_GUARD_DIR, trackingGuardFiles } from "../../constructs/commands/tracking-guard";
import { venvPython } from "./tools";

// Next to this file in the source tree; from dist/test/helpers (compiled), in the source tree.
const CHECKER = [path.join(__dirname, "mlflow-cli-check.py"), path.join(__dirname, "..", "..", "..", "test", "helpers", "mlflow-cli-check.py")]
  .find((p) => fs.existsSync(p)) ?? path.join(__dirname, "mlflow-cli-check.py");

export type CliResult = {
  /** The resolved sub-command, e.g. "server", "db upgrade", "gc". */
  command: string;
  /** The MLflow version that parsed it. */
  mlflowVersion: string;
  /** The parameters click parsed, by Python name. */
  params: Record<string, any>;
  /** `mlflow server` only: the parameters uvicorn's CLI parsed from the command MLflow would spawn. */
  uvicorn?: Record<string, any>;
  /** `mlflow server` only: MLflow's Host-header verdict for each probe. */
  hostCheck?: Record<string, boolean>;
  /** How SQLAlchemy would connect for MLFLOW_BACKEND_STORE_URI. */
  database?: any;
  /** A click usage error, when the command line is invalid. */
  error?: string;
};

/** Parses each rendered process with click, as `mlflow` would, in its rendered environment. */
export function mlflowCliParse(procs: { process: RenderedProcess; hostProbes?: string[] }[]): CliResult[] {
  // The tracking server's guard is a mounted ConfigMap on PYTHONPATH (its entry point is one of the
  // choices of `--app-name`, read when MLflow's CLI is imported): mount its files here, as the kubelet would.
  const guardDir = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-guard-"));
  for (const f of trackingGuardFiles()) {
    fs.mkdirSync(path.dirname(path.join(guardDir, f.path)), { recursive: true });
    fs.writeFileSync(path.join(guardDir, f.path), f.content);
  }
  const env = (e: Record<string, string>) => (e.PYTHONPATH
    ? { ...e, PYTHONPATH: e.PYTHONPATH.split(":").map((d) => (d === TRACKING_GUARD_DIR ? guardDir : d)).join(":") }
    : e);
  const input = JSON.stringify({ processes: procs.map((p) => ({ argv: p.process.argv, env: env(p.process.env), hostProbes: p.hostProbes ?? [] })) });
  try {
    return JSON.parse(execFileSync(venvPython(), [CHECKER], { input, encoding: "utf8", maxBuffer: 16 << 20, env: { ...process.env, PYTHONPATH: guardDir } }));
  } finally {
    fs.rmSync(guardDir, { recursive: true, force: true });
  }
}
