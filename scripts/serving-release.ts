/**
 * The released model versions, as a pipeline and a person change them: `config/releases/<env>.json`
 * (one entry per model: registered version + image digest) is the only place a release is declared, so
 * a release and a rollback are both a one-line change a reviewer reads, and `cdktf deploy` (Argo Rollouts
 * underneath) rolls it out blue-green, with the smoke test and the analysis, like any release.
 *
 *   npm run serve:release -- show dev
 *   npm run serve:release -- set dev iris-classifier 4 sha256:<64 hex>     # a release pipeline
 *   npm run serve:rollback -- dev iris-classifier                          # back to the previous release
 *   npm run serve:rollback -- dev iris-classifier --to 2                   # back to version 2
 *
 * "Previous" comes from the file's own git history (the newest committed release of that model that
 * differs from the current one), so a rollback needs no state besides the repository. The functions are
 * exported for pipelines written in TypeScript. For an emergency while a release is still in progress,
 * `kubectl argo rollouts abort <rollout> -n <namespace>` switches traffic back at once (docs/model-serving.md);
 * the file must then still be set back, or the next deploy starts the same release again.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { releaseSchema } from "../config/serving";

export interface Release {
  version: string;
  imageDigest: string;
}
export type Releases = Record<string, Release>;

/** Repository root: the directory holding config/releases (from sources and from dist/). */
export function repoRoot(): string {
  for (const c of [path.resolve(__dirname, ".."), path.resolve(__dirname, "..", "..")]) {
    if (fs.existsSync(path.join(c, "config", "releases"))) return c;
  }
  return process.cwd();
}

export function releasesFile(env: string, root = repoRoot()): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(env)) throw new Error(`environment "${env}" is not a valid name`);
  return path.join(root, "config", "releases", `${env}.json`);
}

function parse(text: string, where: string): Releases {
  const doc = JSON.parse(text) as Releases;
  for (const [model, r] of Object.entries(doc)) {
    const ok = releaseSchema.safeParse(r);
    if (!ok.success)
      throw new Error(
        `${where}: release of "${model}" is invalid: ${ok.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
  }
  return doc;
}

export function readReleases(env: string, root = repoRoot()): Releases {
  const file = releasesFile(env, root);
  if (!fs.existsSync(file)) throw new Error(`${path.relative(root, file)} does not exist: create it with {} for environment "${env}"`);
  return parse(fs.readFileSync(file, "utf8"), path.relative(root, file));
}

export function writeReleases(env: string, releases: Releases, root = repoRoot()): void {
  fs.writeFileSync(releasesFile(env, root), `${JSON.stringify(releases, null, 2)}\n`);
}

/** Sets one model's release (what a release pipeline does after pushing the image). */
export function setRelease(env: string, model: string, release: Release, root = repoRoot()): { before?: Release; after: Release } {
  const ok = releaseSchema.safeParse(release);
  if (!ok.success)
    throw new Error(`release of "${model}" is invalid: ${ok.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const all = readReleases(env, root);
  const before = all[model];
  all[model] = { version: release.version, imageDigest: release.imageDigest };
  writeReleases(env, all, root);
  return { before, after: all[model] };
}

/** The committed releases of one model, newest first (from `git log` of the environment's file). */
export function releaseHistory(env: string, model: string, root = repoRoot()): { commit: string; release: Release }[] {
  const rel = path.relative(root, releasesFile(env, root));
  const git = (...args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const commits = git("log", "--format=%H", "--", rel).split("\n").filter(Boolean);
  const out: { commit: string; release: Release }[] = [];
  for (const commit of commits) {
    let text: string;
    try {
      text = git("show", `${commit}:${rel}`);
    } catch {
      continue;
    } // deleted in that commit
    const r = parse(text, `${rel} at ${commit.slice(0, 12)}`)[model];
    if (r) out.push({ commit, release: r });
  }
  return out;
}

/**
 * Sets the model back to an earlier release: `to` a given version, or else the newest committed release
 * that differs from the current one. Throws, changing nothing, when there is none.
 */
export function rollback(
  env: string,
  model: string,
  options: { to?: string; root?: string } = {},
): { from?: Release; to: Release; commit: string } {
  const root = options.root ?? repoRoot();
  const current = readReleases(env, root)[model];
  const history = releaseHistory(env, model, root);
  const same = (a?: Release, b?: Release) => !!a && !!b && a.version === b.version && a.imageDigest === b.imageDigest;
  const found = options.to ? history.find((h) => h.release.version === options.to) : history.find((h) => !same(h.release, current));
  if (!found) {
    const seen = [...new Set(history.map((h) => h.release.version))].join(", ") || "none";
    throw new Error(
      options.to
        ? `no committed release of "${model}" at version ${options.to} in ${path.relative(root, releasesFile(env, root))} (versions in its history: ${seen})`
        : `no earlier release of "${model}" in the history of ${path.relative(root, releasesFile(env, root))} to go back to (versions in its history: ${seen})`,
    );
  }
  setRelease(env, model, found.release, root);
  return { from: current, to: found.release, commit: found.commit };
}

function main(argv: string[]): number {
  const [cmd, env, model, ...rest] = argv;
  const usage = "usage: serving-release show <env> | set <env> <model> <version> <sha256:digest> | rollback <env> <model> [--to <version>]";
  try {
    if (cmd === "show" && env) {
      console.log(JSON.stringify(readReleases(env), null, 2));
      return 0;
    }
    if (cmd === "set" && env && model && rest.length === 2) {
      const r = setRelease(env, model, { version: rest[0], imageDigest: rest[1] });
      console.log(
        `${env}/${model}: ${r.before ? `version ${r.before.version}` : "no release"} -> version ${r.after.version} (${r.after.imageDigest}); commit config/releases/${env}.json and deploy`,
      );
      return 0;
    }
    if (cmd === "rollback" && env && model) {
      const i = rest.indexOf("--to");
      const r = rollback(env, model, { to: i >= 0 ? rest[i + 1] : undefined });
      console.log(
        `${env}/${model}: ${r.from ? `version ${r.from.version}` : "no release"} -> version ${r.to.version} (${r.to.imageDigest}, as released in ${r.commit.slice(0, 12)}); commit config/releases/${env}.json and deploy`,
      );
      return 0;
    }
  } catch (err) {
    console.error(`serving-release: ${(err as Error).message}`);
    return 1;
  }
  console.error(usage);
  return 2;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
