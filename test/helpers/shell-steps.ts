/**
 * Runs the shell the pipelines run, for real, with stand-in commands: a workflow step's `run:` block
 * (read from the workflow file) or a script of scripts/ci, under bash with `set -eo pipefail` as GitHub
 * Actions runs it, in a scratch directory, with executables of the test's own put first on PATH. Every
 * stand-in appends its arguments (and what it read on stdin, when asked) to a log the test reads.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";

const ROOT = path.join(__dirname, "..", "..");

/** The `run:` text of one step of a workflow job: the step whose `id` or `name` is `step`. */
export function workflowStepRun(workflow: string, job: string, step: string): string {
  const wf = parse(fs.readFileSync(path.join(ROOT, ".github", "workflows", workflow), "utf8")) as {
    jobs: Record<string, { steps: { id?: string; name?: string; run?: string }[] }>;
  };
  const found = wf.jobs[job]?.steps.find((s) => s.id === step || s.name === step);
  if (!found?.run) throw new Error(`${workflow}: job ${job} has no step "${step}" with a run block`);
  return found.run;
}

/** A stand-in command: a bash script body; `$LOG` is the shared call log. */
export type StandIns = Record<string, string>;

/** What a run left: exit code, output, the stand-ins' call log, and the scratch directory. */
export interface ShellRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly calls: string[];
  readonly dir: string;
}

/**
 * Runs `script` under `bash -e -o pipefail` in a fresh directory (`files` are written into it first,
 * relative paths), with `standIns` on PATH before the system's and `env` set.
 */
export function runShell(
  script: string,
  opts: { env?: Record<string, string>; standIns?: StandIns; files?: Record<string, string> } = {},
): ShellRun {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "shell-step-"));
  const bin = path.join(dir, ".bin");
  fs.mkdirSync(bin);
  const log = path.join(dir, ".calls.log");
  fs.writeFileSync(log, "");
  for (const [name, body] of Object.entries(opts.standIns ?? {})) {
    fs.writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\nset -euo pipefail\n${body}\n`, { mode: 0o755 });
  }
  for (const [file, content] of Object.entries(opts.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content, { mode: file.endsWith(".sh") ? 0o755 : 0o644 });
  }
  const r = spawnSync("bash", ["-e", "-o", "pipefail", "-c", script], {
    cwd: dir,
    encoding: "utf8",
    env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir, LOG: log, GITHUB_OUTPUT: path.join(dir, ".github_output"), ...(opts.env ?? {}) },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, calls: fs.readFileSync(log, "utf8").split("\n").filter(Boolean), dir };
}

/** A repository file's text (to run a script of scripts/ci in the scratch directory). */
export function repoFile(file: string): string {
  return fs.readFileSync(path.join(ROOT, file), "utf8");
}
