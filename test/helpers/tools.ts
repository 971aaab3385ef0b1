/**
 * Where the real tools installed by scripts/install-tools.sh live. A missing tool is an error that
 * says how to install it: tests that need a tool never skip silently.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const TOOLS_DIR = process.env.MLFLOW_PLATFORM_TOOLS ?? path.join(os.homedir(), ".cache", "mlflow-platform-e2e");

function mustExist(file: string, what: string): string {
  if (!fs.existsSync(file)) {
    throw new Error(`${what} not found at ${file}: run \`npm run tools\` (scripts/install-tools.sh; npm test runs it first)`);
  }
  return file;
}

/** The virtualenv's python, with MLflow at the pinned version. */
export const venvPython = () => mustExist(path.join(TOOLS_DIR, "venv", "bin", "python"), "the tools virtualenv");
/** A console script of the virtualenv (`mlflow`, `moto_server`). */
export const venvBin = (name: string) => mustExist(path.join(TOOLS_DIR, "venv", "bin", name), name);
/** The oauth2-proxy binary at the pinned version. */
export const oauth2ProxyBin = () => mustExist(path.join(TOOLS_DIR, "bin", "oauth2-proxy"), "oauth2-proxy");

/** Absolute path of a command on PATH (promtool, amtool), or an error saying how to install it. */
export function onPath(name: string): string {
  try {
    return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(
      `${name} is not installed: run \`npm run tools\` (scripts/install-tools.sh installs it from Debian; npm test runs it first)`,
    );
  }
}

/** checkov at the pinned version (tools/checkov-requirements.txt), in its own virtualenv. */
export const checkovBin = () => mustExist(process.env.CHECKOV_BIN ?? path.join(TOOLS_DIR, "checkov", "bin", "checkov"), "checkov");
