/**
 * Checks rendered MLflow command lines with the real MLflow CLI of the pinned version, without running
 * them: the run's MLflow process (mlflow-tool.ts) parses them with MLflow's own click commands.
 */
import type { RenderedProcess } from "../../constructs/core/render";
import { TRACKING_GUARD_DIR } from "../../constructs/tracking-server/guard-command";
import { mlflowTool, toolGuardDir } from "./mlflow-tool";

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
export async function mlflowCliParse(procs: { process: RenderedProcess; hostProbes?: string[] }[]): Promise<CliResult[]> {
  // The tracking guard is a mounted ConfigMap on PYTHONPATH (its entry point is one of the choices of
  // `--app-name`, read when MLflow's CLI is imported): the MLflow process has its files on its import
  // path, as the kubelet would mount them; the rendered PYTHONPATH names that directory instead.
  const guardDir = toolGuardDir();
  const env = (e: Record<string, string>) =>
    e.PYTHONPATH
      ? {
          ...e,
          PYTHONPATH: e.PYTHONPATH.split(":")
            .map((d) => (d === TRACKING_GUARD_DIR ? guardDir : d))
            .join(":"),
        }
      : e;
  return mlflowTool<CliResult[]>({
    kind: "cli-check",
    processes: procs.map((p) => ({ argv: p.process.argv, env: env(p.process.env), hostProbes: p.hostProbes ?? [] })),
  });
}
