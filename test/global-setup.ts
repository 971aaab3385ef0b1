/**
 * Names this jest run's directory for the MLflow process the suites share (test/helpers/mlflow-tool.ts).
 * Nothing starts here: the first suite that needs MLflow starts it, so a run without one pays nothing.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { OWNER_ENV, RUN_DIR_ENV } from "./helpers/mlflow-tool";

export default function globalSetup(): void {
  process.env[RUN_DIR_ENV] = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-platform-jest-"));
  process.env[OWNER_ENV] = String(process.pid);
}
