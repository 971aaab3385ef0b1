/**
 * The declared release of an environment, `config/releases/<env>.json` (version + image digest per
 * model): the one file the release pipeline changes, in a commit a reviewer can read.
 *
 *   node dist/scripts/ci/release-file.js get --env staging --model iris
 *   node dist/scripts/ci/release-file.js set --env staging --model iris --version 3 --digest sha256:<64 hex>
 *
 * `set` refuses a model the environment does not serve (serving.models), a digest that is not a digest
 * and a malformed version, before it writes; it prints {previous, current} as JSON (the previous entry is
 * what a rollback returns to). The file keeps a stable form (sorted keys, two spaces, newline) so the
 * diff is the one changed line.
 */
import * as fs from "fs";
import * as path from "path";
import { loadEnvironments, type EnvironmentConfig } from "../../config";
import { releaseSchema } from "../../config/serving";
import { flag, run } from "./cli";

export type Release = { version: string; imageDigest: string };
export type Releases = Record<string, Release>;

export function releaseFilePath(repoRoot: string, env: string): string {
  return path.join(repoRoot, "config", "releases", `${env}.json`);
}

export function readReleases(file: string): Releases {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Releases) : {};
}

/** The file's text: models sorted, two-space JSON, trailing newline. */
export function formatReleases(r: Releases): string {
  const sorted: Releases = {};
  for (const k of Object.keys(r).sort()) sorted[k] = { version: r[k].version, imageDigest: r[k].imageDigest };
  return `${JSON.stringify(sorted, null, 2)}\n`;
}

/** Sets one model's release; throws with a message that says what to fix. */
export function setRelease(
  current: Releases,
  env: Pick<EnvironmentConfig, "name" | "serving">,
  model: string,
  release: Release,
): { previous?: Release; next: Releases } {
  if (!(model in env.serving.models)) {
    throw new Error(
      `environment "${env.name}" does not serve model "${model}": declare it in config/environments.ts (serving.models) first; it serves ${Object.keys(env.serving.models).join(", ") || "no model"}`,
    );
  }
  const parsed = releaseSchema.safeParse(release);
  if (!parsed.success)
    throw new Error(`release of "${model}": ${parsed.error.issues.map((i) => `${i.path.join(".")}: expected ${i.message}`).join("; ")}`);
  return { previous: current[model], next: { ...current, [model]: parsed.data } };
}

export async function main(
  argv: readonly string[],
  opts: { repoRoot?: string; envs?: () => EnvironmentConfig[]; out?: (s: string) => void } = {},
): Promise<number> {
  const out = opts.out ?? ((s: string) => process.stdout.write(s));
  const repoRoot = opts.repoRoot ?? process.cwd();
  const [cmd] = argv;
  const envName = flag(argv, "--env");
  const model = flag(argv, "--model");
  if ((cmd !== "get" && cmd !== "set") || !envName || !model) {
    process.stderr.write("usage: release-file get|set --env <env> --model <name> [--version <n> --digest sha256:<hex>]\n");
    return 2;
  }
  const env = (opts.envs ?? loadEnvironments)().find((e) => e.name === envName);
  if (!env) {
    process.stderr.write(`release-file: no environment "${envName}" in config/environments.ts\n`);
    return 2;
  }
  const file = releaseFilePath(repoRoot, envName);
  const current = readReleases(file);
  if (cmd === "get") {
    out(`${JSON.stringify(current[model] ?? null)}\n`);
    return 0;
  }
  try {
    const { previous, next } = setRelease(current, env, model, {
      version: flag(argv, "--version") ?? "",
      imageDigest: flag(argv, "--digest") ?? "",
    });
    fs.writeFileSync(file, formatReleases(next));
    out(`${JSON.stringify({ file: path.relative(repoRoot, file), model, previous: previous ?? null, current: next[model] })}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`release-file: ${(err as Error).message}\n`);
    return 2;
  }
}

if (require.main === module) run("release-file", () => main(process.argv.slice(2)));
