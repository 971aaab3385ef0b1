/** Stops this jest run's MLflow process, if a suite started it, and removes the run's directory. */
import * as fs from "fs";
import { RUN_DIR_ENV, stopMlflowTool } from "./helpers/mlflow-tool";

export default function globalTeardown(): void {
  const dir = process.env[RUN_DIR_ENV];
  if (!dir) return;
  stopMlflowTool(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}
