/**
 * Starts the harness's processes, each in its own process group with its output in a log file, and
 * stops every one of them, whatever happens: normal end, a failed step, an exception, Ctrl-C or
 * SIGTERM. Nothing the harness starts outlives it.
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** This checkout's root (from test/e2e/lib, or dist/test/e2e/lib once compiled). */
const REPO_ROOT =
  [path.join(__dirname, "..", "..", ".."), path.join(__dirname, "..", "..", "..", "..")].find((d) =>
    fs.existsSync(path.join(d, "runtime", "src", "mlflow_platform")),
  ) ?? path.join(__dirname, "..", "..", "..");

/**
 * `env` with this checkout's runtime package on PYTHONPATH, after the entries the command sets itself
 * (a module mounted from a ConfigMap still wins) and before site-packages. The tools' virtualenv is
 * shared by every clone of the repository, and its installed copy of the runtime is whichever clone
 * installed last: the processes the harness starts must run this checkout's code, whatever another did.
 */
export function withCheckoutRuntime(env: NodeJS.ProcessEnv): Record<string, string> {
  const own = path.join(REPO_ROOT, "runtime", "src");
  const rest = (env.PYTHONPATH ?? "").split(":").filter((p) => p && p !== own);
  return { ...(env as Record<string, string>), PYTHONPATH: [...rest, own].join(":") };
}

export interface StartOptions {
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Run as this local user (PostgreSQL refuses to run as root). */
  readonly asUser?: string;
}

export interface Managed {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly child: ChildProcess;
  /** Set once the process has exited. */
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  /** Called before the process group is signalled (e.g. `pg_ctl stop`). */
  beforeStop?: () => void;
  /** Set once the whole group is known to be gone. */
  gone?: boolean;
}

/** The last `lines` lines of a log file. */
export function tail(file: string, lines = 25): string {
  try {
    const all = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    return all
      .slice(-lines)
      .map((l) => `        | ${l}`)
      .join("\n");
  } catch {
    return "        | (no log)";
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Processes {
  private readonly started: Managed[] = [];
  private stopping?: Promise<{ name: string; ms: number }[]>;
  /** The signal that interrupted the run, if one did. */
  interrupted?: NodeJS.Signals;

  constructor(readonly logDir: string) {
    fs.mkdirSync(logDir, { recursive: true });
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.interrupted) {
        // A second signal: no more waiting.
        this.killAllNow();
        process.exit(130);
      }
      this.interrupted = signal;
      console.error(`\nreceived ${signal}: stopping every process the harness started`);
      // The steps in flight fail as their processes go; the run then reports and exits. Should it
      // hang, this timer ends it (the exit handler below still kills what is left).
      setTimeout(() => process.exit(signal === "SIGINT" ? 130 : 143), 60_000).unref();
      void this.stopAll();
    };
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, onSignal);
    // Last resort (an uncaught exception, process.exit from elsewhere): never leave a process behind.
    process.once("exit", () => this.killAllNow());
  }

  /** Starts `argv` in a new process group, logging stdout and stderr to `<logDir>/<name>.log`. */
  start(name: string, argv: readonly string[], options: StartOptions = {}): Managed {
    if (this.stopping) throw new Error(`cannot start ${name}: the harness is stopping${this.interrupted ? ` (${this.interrupted})` : ""}`);
    const logFile = path.join(this.logDir, `${name}.log`);
    const fd = fs.openSync(logFile, "a");
    let [file, ...args] = argv;
    if (options.asUser) {
      args = ["-u", options.asUser, "--", file, ...args];
      file = "runuser";
    }
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: withCheckoutRuntime(options.env ?? process.env),
      stdio: ["ignore", fd, fd],
      detached: true, // its own process group: stopping it stops its children too
    });
    fs.closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start ${name} (${file}): is it installed?`);
    const managed: Managed = { name, pid: child.pid, logFile, child };
    child.on("exit", (code, signal) => {
      managed.exit = { code, signal };
    });
    child.on("error", (err) => {
      managed.exit = { code: -1, signal: null };
      fs.appendFileSync(logFile, `\nspawn error: ${err.message}\n`);
    });
    this.started.push(managed);
    return managed;
  }

  /** Runs `argv` to completion (own process group, logged); returns its exit code and output. */
  async run(
    name: string,
    argv: readonly string[],
    options: StartOptions & { timeoutMs?: number } = {},
  ): Promise<{ code: number | null; output: string }> {
    const m = this.start(name, argv, options);
    const timeoutMs = options.timeoutMs ?? 300_000;
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        fs.appendFileSync(m.logFile, `\nharness: timed out after ${timeoutMs / 1000}s, killing\n`);
        void this.stop(m);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(m.exit?.code ?? null);
      };
      if (m.exit) done();
      else m.child.once("exit", done);
    });
    // The group may still hold children of the command: they end with it.
    await this.stop(m);
    return { code, output: fs.readFileSync(m.logFile, "utf8") };
  }

  /** Stops one process group: its beforeStop hook, SIGTERM, then SIGKILL after `graceMs`. */
  async stop(m: Managed, graceMs = 5000): Promise<void> {
    if (m.beforeStop) {
      try {
        m.beforeStop();
      } catch {
        /* the group is signalled anyway */
      }
      m.beforeStop = undefined;
    }
    if (!groupAlive(m.pid)) {
      m.gone = true;
      return;
    }
    try {
      process.kill(-m.pid, "SIGTERM");
    } catch {
      /* already gone */
    }
    // Waiting asynchronously lets Node reap the exited leader (a zombie still counts as in the group).
    const deadline = Date.now() + graceMs;
    while (groupAlive(m.pid) && Date.now() < deadline) await sleep(50);
    if (groupAlive(m.pid)) {
      try {
        process.kill(-m.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
      const hard = Date.now() + 2000;
      while (groupAlive(m.pid) && Date.now() < hard) await sleep(50);
    }
    m.gone = !groupAlive(m.pid);
  }

  /** Stops every process started, newest first; returns how long each took to stop. Idempotent. */
  stopAll(): Promise<{ name: string; ms: number }[]> {
    this.stopping ??= (async () => {
      const times = [];
      for (const m of [...this.started].reverse()) {
        const t = Date.now();
        await this.stop(m);
        times.push({ name: m.name, ms: Date.now() - t });
      }
      return times;
    })();
    return this.stopping;
  }

  /** Last resort when the harness exits: SIGKILL to every group still there, synchronously. */
  killAllNow(): void {
    for (const m of this.started) {
      if (m.gone) continue;
      if (m.beforeStop) {
        try {
          m.beforeStop();
        } catch {
          /* killed below anyway */
        }
      }
      try {
        process.kill(-m.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  }

  /** Names of started processes whose group is still alive (after stopAll: should be none). */
  survivors(): string[] {
    return this.started.filter((m) => groupAlive(m.pid)).map((m) => `${m.name} (pgid ${m.pid})`);
  }
}

/** Runs a command synchronously and returns stdout; throws with its output when it fails. */
export function runSync(
  argv: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; asUser?: string; cwd?: string } = {},
): string {
  let [file, ...args] = argv;
  if (options.asUser) {
    args = ["-u", options.asUser, "--", file, ...args];
    file = "runuser";
  }
  const r = spawnSync(file, args, {
    input: options.input,
    // Without input, stdin is /dev/null rather than a pipe: Node's pipes are sockets, and bash started
    // with a socket on stdin and no SHLVL (a harness not started from a shell) takes itself for an ssh
    // session and reads ~/.bashrc and /etc/bash.bashrc, whose unset PS1 fails `bash -u` (Debian's).
    stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    env: withCheckoutRuntime(options.env ?? process.env),
    cwd: options.cwd,
    encoding: "utf8",
  });
  if (r.error) throw new Error(`${argv[0]}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}
