/**
 * The one MLflow process of a jest run (mlflow-tool.py): the pinned MLflow from the tools virtualenv,
 * imported once, forking a fresh child for every check. Every suite that needs MLflow's CLI, its server
 * module or its SQLAlchemy talks to it; the first one to ask starts it, test/global-setup.ts names the
 * run's directory and test/global-teardown.ts stops it.
 *
 * What runs is still MLflow's own code: command lines are parsed by its click CLI, and `run` calls the
 * entry point the `mlflow` console script calls, in the request's environment and working directory.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { trackingGuardFiles } from "../../constructs/tracking-server/guard-command";
import { venvPython } from "./tools";

/** Set by test/global-setup.ts: the directory of this jest run's MLflow process (socket, pid, log). */
export const RUN_DIR_ENV = "MLFLOW_PLATFORM_TEST_RUN";
/** Set by test/global-setup.ts: the jest process; the MLflow process exits when it is gone. */
export const OWNER_ENV = "MLFLOW_PLATFORM_TEST_OWNER";

// Next to this file in the source tree; from dist/test/helpers (compiled), in the source tree.
const SERVER =
  [path.join(__dirname, "mlflow-tool.py"), path.join(__dirname, "..", "..", "..", "test", "helpers", "mlflow-tool.py")].find((p) =>
    fs.existsSync(p),
  ) ?? path.join(__dirname, "mlflow-tool.py");
const START_TIMEOUT_MS = 180_000;

/** The files of this run's MLflow process. */
export function toolFiles(runDir: string) {
  return {
    socket: path.join(runDir, "mlflow.sock"),
    log: path.join(runDir, "mlflow-tool.log"),
    /** Held while a process runs (mkdir is the lock; the process removes it when it exits). */
    lock: path.join(runDir, "mlflow-tool.lock"),
    /** The running process's pid, inside the lock. */
    pid: path.join(runDir, "mlflow-tool.lock", "pid"),
    /** The tracking guard's files, mounted as the kubelet mounts its ConfigMap, on the process's PYTHONPATH. */
    guard: path.join(runDir, "tracking-guard"),
  };
}

/** Stops the run's MLflow process (and its children), if one is running. */
export function stopMlflowTool(runDir: string): void {
  try {
    const pid = Number(fs.readFileSync(toolFiles(runDir).pid, "utf8"));
    if (pid > 0) process.kill(-pid, "SIGKILL");
  } catch {
    // none running
  }
}

let runDir: string | undefined;
/** This run's directory; outside a jest run with the global setup, a private one removed at exit. */
function ensureRunDir(): string {
  if (runDir) return runDir;
  const fromSetup = process.env[RUN_DIR_ENV];
  if (fromSetup) return (runDir = fromSetup);
  const own = fs.mkdtempSync(path.join(os.tmpdir(), "mlflow-tool-"));
  process.on("exit", () => {
    stopMlflowTool(own);
    fs.rmSync(own, { recursive: true, force: true });
  });
  return (runDir = own);
}

/** Where the MLflow process has the tracking guard's files on its import path. */
export function toolGuardDir(): string {
  return toolFiles(ensureRunDir()).guard;
}

/** Starts a process unless one runs or is starting (mkdir of the lock decides). */
function startUnlessRunning(dir: string): void {
  const files = toolFiles(dir);
  // Before taking the lock: a missing virtualenv is an error saying how to install it, not a lock
  // that every other suite waits on.
  const python = venvPython();
  try {
    fs.mkdirSync(files.lock);
  } catch {
    return;
  }
  if (!fs.existsSync(files.guard)) {
    for (const f of trackingGuardFiles({ access: true })) {
      fs.mkdirSync(path.dirname(path.join(files.guard, f.path)), { recursive: true });
      fs.writeFileSync(path.join(files.guard, f.path), f.content);
    }
  }
  const log = fs.openSync(files.log, "a");
  const owner = process.env[OWNER_ENV] ?? String(process.pid);
  const child = spawn(python, ["-B", SERVER, files.socket, owner, files.lock], {
    // Its own process group, so that the teardown stops its children too.
    detached: true,
    stdio: ["ignore", log, log],
    env: { ...process.env, PYTHONPATH: files.guard, PYTHONDONTWRITEBYTECODE: "1" },
  });
  fs.closeSync(log);
  fs.writeFileSync(files.pid, String(child.pid));
  child.unref();
}

function connect(socket: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socket);
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** False only when the lock names a process that is gone without removing it (it crashed). */
function notCrashed(files: ReturnType<typeof toolFiles>): boolean {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(files.pid, "utf8"));
  } catch {
    return true; // no lock (none running), or its pid not written yet (starting)
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return !fs.existsSync(files.lock); // it exited and removed its lock just now
  }
}

async function connected(): Promise<net.Socket> {
  const files = toolFiles(ensureRunDir());
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (fs.existsSync(files.socket)) {
      try {
        return await connect(files.socket);
      } catch {
        // unlinked just now by a process that is exiting idle: start another one
      }
    }
    if (!fs.existsSync(files.socket)) startUnlessRunning(path.dirname(files.socket));
    if (!notCrashed(files) || Date.now() > deadline) {
      const log = fs.existsSync(files.log) ? fs.readFileSync(files.log, "utf8").slice(-4000) : "(no log)";
      throw new Error(`the MLflow check process (test/helpers/mlflow-tool.py) is not answering on ${files.socket}; its log:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A request on its way: the pid of the process running it, and its answer. */
export type ToolRequest<T> = {
  /** The forked process that runs this request: killing it ends the request (the answer is then undefined). */
  pid: Promise<number>;
  /** The answer; a failure inside the tool is thrown with its trace. */
  answer: Promise<T | undefined>;
};

/** Sends one request. */
export function sendRequest<T>(request: Record<string, unknown>): ToolRequest<T> {
  let pidOf: (pid: number) => void = () => undefined;
  let noPid: (err: Error) => void = () => undefined;
  const pid = new Promise<number>((resolve, reject) => ((pidOf = resolve), (noPid = reject)));
  const answer = (async () => {
    const socket = await connected();
    const text = await new Promise<string>((resolve, reject) => {
      let data = "";
      socket.setEncoding("utf8");
      socket.on("data", (d) => {
        data += d;
        const nl = data.indexOf("\n");
        if (nl >= 0) pidOf((JSON.parse(data.slice(0, nl)) as { pid: number }).pid);
      });
      // Once the pid line is in, a reset means the process running the request was killed.
      socket.once("error", (err) => (data.includes("\n") ? resolve(data) : reject(err)));
      socket.once("close", () => resolve(data));
      socket.end(`${JSON.stringify(request)}\n`);
    });
    const [first, second] = text.split("\n");
    if (!first) throw new Error(`mlflow-tool ${String(request.kind)}: the connection closed without an answer`);
    if (!second) return undefined; // the process running it was killed
    const parsed = JSON.parse(second) as { ok?: T; error?: string; trace?: string };
    if (parsed.error !== undefined) throw new Error(`mlflow-tool ${String(request.kind)}: ${parsed.error}\n${parsed.trace ?? ""}`);
    return parsed.ok as T;
  })();
  answer.catch((err: Error) => noPid(err));
  pid.catch(() => undefined); // a caller that never asks for the pid must not see an unhandled rejection
  return { pid, answer };
}

/** Sends one request and returns its answer. */
export async function mlflowTool<T>(request: Record<string, unknown>): Promise<T> {
  const answer = await sendRequest<T>(request).answer;
  if (answer === undefined) throw new Error(`mlflow-tool ${String(request.kind)}: the process running the request was killed`);
  return answer;
}

/** A finished command: its exit code and its stdout and stderr, interleaved. */
export type ToolRun = { code: number; output: string };

/**
 * Runs `argv` (`["mlflow", ...]`) through the `mlflow` console script's entry point, with exactly `env`
 * (nothing inherited) in `cwd`.
 */
export function mlflowRun(argv: readonly string[], env: Record<string, string>, cwd: string): Promise<ToolRun> {
  return mlflowTool<ToolRun>({ kind: "run", argv, env, cwd });
}

/** `mlflowRun`, for a command the caller stops itself: kill the pid, and the answer is undefined. */
export function mlflowStart(argv: readonly string[], env: Record<string, string>, cwd: string): ToolRequest<ToolRun> {
  return sendRequest<ToolRun>({ kind: "run", argv, env, cwd });
}

/** Runs a Python snippet in the tools virtualenv's interpreter (MLflow already imported), as `python -c`. */
export function venvPythonRun(
  code: string,
  argv: readonly string[] = [],
  env: Record<string, string> = { PATH: process.env.PATH ?? "" },
): Promise<ToolRun> {
  return mlflowTool<ToolRun>({ kind: "python", code, argv, env, cwd: os.tmpdir() });
}
